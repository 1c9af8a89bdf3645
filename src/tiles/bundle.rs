//! Entry bundles (specs.md §7.3): the entries of one level-0 tile, each as a big-endian
//! u16 length followed by the entry bytes, in log order.

use super::{FULL_WIDTH, TileError};

/// The largest entry a bundle can hold (the u16 length prefix).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// Encodes 1..=256 entries as a bundle; an entry over 65,535 bytes is an error.
pub fn encode_bundle<T: AsRef<[u8]>>(entries: &[T]) -> Result<Vec<u8>, TileError> {
    check_count(entries.len())?;
    let mut out = Vec::with_capacity(entries.iter().map(|e| 2 + e.as_ref().len()).sum());
    for (index, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLarge {
            index,
            len: entry.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Decodes a bundle that must hold exactly `expected_count` entries (1..=256, the width of
/// its tile), rejecting truncation and trailing bytes. The entries borrow from `bytes`.
pub fn decode_bundle(bytes: &[u8], expected_count: usize) -> Result<Vec<&[u8]>, TileError> {
    check_count(expected_count)?;
    let mut out = Vec::with_capacity(expected_count);
    let mut rest = bytes;
    for index in 0..expected_count {
        let Some((len, after)) = rest.split_first_chunk::<2>() else {
            return Err(TileError::BundleTruncated { index });
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if after.len() < len {
            return Err(TileError::BundleTruncated { index });
        }
        let (entry, after) = after.split_at(len);
        out.push(entry);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(TileError::BundleTrailingData {
            count: expected_count,
            extra: rest.len(),
        });
    }
    Ok(out)
}

fn check_count(count: usize) -> Result<(), TileError> {
    if count == 0 || count > usize::from(FULL_WIDTH) {
        return Err(TileError::BadEntryCount { count });
    }
    Ok(())
}
