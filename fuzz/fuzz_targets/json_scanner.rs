//! The streaming JSON scanner (pg-sources): any bytes give objects or errors, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pg_sources::json::stream(data, None, |_| {});
});
