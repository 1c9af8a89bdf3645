//! tlog-tiles paths: each tile has exactly one path, so a path that parses
//! formats back to itself.
#![no_main]

use claimlog::tiles::{TilePath, parse_tile_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = parse_tile_path(path) {
        let formatted = match parsed {
            TilePath::Hashes(tile) => tile.to_string(),
            TilePath::Entries(bundle) => bundle.to_string(),
        };
        assert_eq!(formatted, path);
    }
});
