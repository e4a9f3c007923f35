//! The YAML tree (pg-yaml): any text parses or fails with an error, never a panic, a hang or
//! unbounded memory (depth and alias-expansion limits).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = pg_yaml::parse_stream(text, |unit| {
            let _ = unit.tree.node(unit.root);
        });
    }
});
