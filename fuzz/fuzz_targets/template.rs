//! The template preprocessor (pg-sources): any Jinja2 or Helm text is rewritten without a
//! panic, and the rewrite keeps the text's line count (positions must stay true).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pg_sources::template::{Dialect, preprocess};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for dialect in [Dialect::Jinja, Dialect::Helm] {
        let (rewritten, _) = preprocess(text, dialect);
        assert_eq!(
            rewritten.matches('\n').count(),
            text.matches('\n').count(),
            "line count changed"
        );
        let _ = pg_yaml::parse_stream(&rewritten, |_| {});
    }
});
