//! A fast path for parsing an envelope in the canonical encoding the log
//! stores ([`Envelope::to_canonical_json`]), which every log entry holds and
//! the monitor parses once per entry.
//!
//! The JSON parse scans the ~4 KiB base64 payload for escapes, and the
//! canonical check then compares it with itself; here the payload is only
//! base64-decoded (which checks every character of it anyway). The fast path
//! accepts exactly
//!
//! ```text
//! {"payload":"B","payloadType":"T","signatures":[{"keyid":"K","sig":"S"}(,{...})*]}
//! ```
//!
//! byte for byte, where `T` and each `K` are "plain": UTF-8 with no `"`, no
//! `\` and no byte below 0x20, and where the field checks shared with the
//! JSON parse (`Envelope::from_fields`: strict base64 for `B` and each `S`,
//! the payload type and keyid rules, 1 to [`MAX_SIGNATURES`] distinct
//! signatures) pass. It answers only "this envelope" or "not vouched for";
//! the caller then runs the JSON parse, which names the fault. So it changes
//! no verdict and no error:
//! - such input is JSON (RFC 8259 §7: a plain string needs no escape; strict
//!   base64 holds only `A-Z a-z 0-9 + / =`), an object with exactly the keys
//!   the JSON parse requires, each once, so that parse reads the same strings
//!   and `from_fields` then builds the same envelope;
//! - it is the canonical encoding: serde_json writes a plain string verbatim
//!   between quotes (it escapes only `"`, `\` and bytes below 0x20), and the
//!   layout above is what `write_canonical_json` writes, in that key order.
//!
//! The payload's end is found from the back (the tail after it is short): the
//! last `","payloadType":"` in the input. In input of the accepted form that is
//! the one after the payload, since neither `T`, `K` nor `S` holds a `"`; in
//! any other input, whatever is taken for the payload must still decode as
//! strict base64, which no text holding a `"` does.

use std::borrow::Cow;

use super::{Envelope, MAX_ENVELOPE_BYTES, MAX_SIGNATURES, RawSignature, payload_type_of};

const HEAD: &[u8] = b"{\"payload\":\"";
const TYPE_KEY: &[u8] = b"\",\"payloadType\":\"";
const SIGNATURES_KEY: &[u8] = b",\"signatures\":[";
const KEYID_KEY: &[u8] = b"{\"keyid\":\"";
const SIG_KEY: &[u8] = b",\"sig\":\"";

/// The envelope `json` encodes, if `json` is in the canonical encoding with
/// plain strings and the envelope is valid (see the module doc); `None` for
/// anything else, valid or not.
pub(super) fn parse_plain(json: &[u8]) -> Option<Envelope> {
    if json.len() > MAX_ENVELOPE_BYTES {
        return None;
    }
    let rest = json.strip_prefix(HEAD)?;
    let split = last_index_of(rest, TYPE_KEY)?;
    let payload = &rest[..split];
    let (payload_type, rest) = plain_string(&rest[split + TYPE_KEY.len()..])?;
    let mut rest = rest.strip_prefix(SIGNATURES_KEY)?;
    let mut sigs: [RawSignature<'_>; MAX_SIGNATURES] = Default::default();
    let mut n = 0;
    loop {
        // More than MAX_SIGNATURES: left to the JSON parse, which says so.
        let slot = sigs.get_mut(n)?;
        let (keyid, after) = plain_string(rest.strip_prefix(KEYID_KEY)?)?;
        let after = after.strip_prefix(SIG_KEY)?;
        // The `sig` is decoded as strict base64 by `from_fields`, which
        // refuses any `\`; here it only has to be a string without `"`.
        let end = after.iter().position(|&c| c == b'"')?;
        *slot = RawSignature {
            keyid: keyid.to_owned(),
            sig: Cow::Borrowed(std::str::from_utf8(&after[..end]).ok()?),
        };
        n += 1;
        rest = after[end + 1..].strip_prefix(b"}")?;
        match rest {
            [b',', more @ ..] => rest = more,
            b"]}" => break,
            _ => return None,
        }
    }
    Envelope::from_fields(payload, payload_type_of_str(payload_type), &mut sigs[..n]).ok()
}

/// Where the last occurrence of `needle` (not empty) starts in `hay`, as
/// `hay.windows(needle.len()).rposition(|w| w == needle)`, found by jumping
/// back from one occurrence of its first byte to the next rather than
/// comparing a window at every position (for a needle near the end).
pub(crate) fn last_index_of(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut end = hay.len();
    loop {
        let i = hay[..end].iter().rposition(|&c| c == first)?;
        if hay[i..].starts_with(needle) {
            return Some(i);
        }
        end = i;
    }
}

/// A plain string's text up to its closing quote, and what follows the
/// quote: `None` unless the text is UTF-8 with no `\` and no byte below 0x20
/// (a string serde_json reads and writes verbatim).
fn plain_string(text: &[u8]) -> Option<(&str, &[u8])> {
    let end = text.iter().position(|&c| c == b'"')?;
    let (s, rest) = (&text[..end], &text[end + 1..]);
    if s.iter().any(|&c| c == b'\\' || c < 0x20) {
        return None;
    }
    Some((std::str::from_utf8(s).ok()?, rest))
}

/// [`payload_type_of`] without copying the in-toto type first.
fn payload_type_of_str(payload_type: &str) -> Cow<'static, str> {
    if payload_type == super::PAYLOAD_TYPE_IN_TOTO {
        Cow::Borrowed(super::PAYLOAD_TYPE_IN_TOTO)
    } else {
        payload_type_of(payload_type.to_owned())
    }
}
