//! Line framing shared by the C2SP text formats that carry a Merkle proof
//! before a signed note: tlog-proof files (`proof_bundle`), tlog-witness
//! `add-checkpoint` bodies (`witness_wire`) and our evidence bundles
//! (`evidence`). Lines end with LF (never CRLF), and a proof is a run of
//! base64 hash lines ended by an empty line.

use crate::merkle::Hash;

/// Splits off the first LF-terminated line (without its LF) and what follows
/// it; `None` if `input` has no LF.
pub(crate) fn split_line(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = input.iter().position(|&b| b == b'\n')?;
    Some((&input[..i], &input[i + 1..]))
}

/// Why a run of proof lines did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProofLinesError {
    /// The input ended before the empty line that ends the proof.
    Unterminated,
    /// More than the allowed number of hash lines.
    TooMany,
    /// The line with this 1-based number (counting proof lines only) is
    /// not a canonical base64 32-byte hash.
    Invalid(usize),
}

/// Reads hash lines from `rest` up to and including the empty line that ends
/// them, leaving `rest` after it. At most `max` hashes: the count is checked
/// before each decode, so a body of many lines costs at most `max + 1`
/// decodes. `Hash::from_base64` is strict (padding, zero trailing bits, no
/// whitespace, exactly 32 bytes).
pub(crate) fn parse_proof_lines(
    rest: &mut &[u8],
    max: usize,
) -> Result<Vec<Hash>, ProofLinesError> {
    let mut proof = Vec::new();
    loop {
        let (line, after) = split_line(rest).ok_or(ProofLinesError::Unterminated)?;
        *rest = after;
        if line.is_empty() {
            return Ok(proof);
        }
        if proof.len() == max {
            return Err(ProofLinesError::TooMany);
        }
        let hash = std::str::from_utf8(line)
            .ok()
            .and_then(Hash::from_base64)
            .ok_or(ProofLinesError::Invalid(proof.len() + 1))?;
        proof.push(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_line_needs_an_lf_and_keeps_cr() {
        assert_eq!(split_line(b"a\nb"), Some((&b"a"[..], &b"b"[..])));
        assert_eq!(split_line(b"\n"), Some((&b""[..], &b""[..])));
        assert_eq!(split_line(b"a\r\nb"), Some((&b"a\r"[..], &b"b"[..])));
        assert_eq!(split_line(b"no newline"), None);
        assert_eq!(split_line(b""), None);
    }

    #[test]
    fn proof_lines_parse_up_to_the_empty_line() {
        let h = Hash([7; 32]);
        let text = format!("{}\n{}\n\nrest", h.to_base64(), h.to_base64());
        let mut rest = text.as_bytes();
        assert_eq!(parse_proof_lines(&mut rest, 2), Ok(vec![h, h]));
        assert_eq!(rest, b"rest");

        let mut rest = &b"\nnote"[..];
        assert_eq!(parse_proof_lines(&mut rest, 0), Ok(vec![]));
        assert_eq!(rest, b"note");
    }

    #[test]
    fn proof_lines_reject_what_is_not_canonical() {
        let h = Hash([1; 32]).to_base64();
        let too_many = format!("{h}\n{h}\n\n");
        assert_eq!(
            parse_proof_lines(&mut too_many.as_bytes(), 1),
            Err(ProofLinesError::TooMany)
        );
        let unterminated = format!("{h}\n{h}");
        assert_eq!(
            parse_proof_lines(&mut unterminated.as_bytes(), 64),
            Err(ProofLinesError::Unterminated)
        );
        let trailing_space = format!("{h}\n{h} \n\n");
        assert_eq!(
            parse_proof_lines(&mut trailing_space.as_bytes(), 64),
            Err(ProofLinesError::Invalid(2))
        );
        let crlf = format!("{h}\r\n\r\n");
        assert_eq!(
            parse_proof_lines(&mut crlf.as_bytes(), 64),
            Err(ProofLinesError::Invalid(1))
        );
        let short = "AAAA\n\n";
        assert_eq!(
            parse_proof_lines(&mut short.as_bytes(), 64),
            Err(ProofLinesError::Invalid(1))
        );
    }
}
