//! The deserializer against an independent emitter: any JSON-like value written as YAML by
//! serde_yaml_ng (libyaml's rules: block style, quoting where a plain scalar would read as
//! something else, literal blocks for multi-line text) reads back through pg-yaml as the same
//! value. Failing cases are shrunk and saved in `properties.proptest-regressions`.
//!
//! Not generated: strings that are booleans only in YAML 1.1 (`yes`, `No`, `ON`, `y`...).
//! libyaml follows YAML 1.2 and writes them plain, and Kubernetes (sigs.k8s.io/yaml) reads a
//! plain `yes` as `true`, as pg-yaml does; tests/booleans.rs covers them. Nor the Unicode
//! line and paragraph separators: line breaks to YAML 1.1 (libyaml, and go-yaml v2 under
//! sigs.k8s.io/yaml), which folds them inside a quoted scalar, but ordinary characters to the
//! YAML 1.2 parser under pg-yaml, which keeps them; a manifest holding one is hostile input, and
//! every output escapes it (`pg_model::visible`).

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Strings that stress quoting: YAML indicators, reserved words of YAML 1.1 and 1.2, numbers,
/// whitespace at the ends, line breaks, non-ASCII text.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,12}",
        proptest::sample::select(vec![
            "~",
            "null",
            "true",
            "False",
            "1e3",
            "0x1F",
            "012",
            "1:20",
            ".inf",
            "-",
            "- a",
            "a: b",
            "#x",
            "x #y",
            "'q'",
            "\"d\"",
            "[a]",
            "{a: 1}",
            "&a",
            "*a",
            "!tag",
            "%p",
            "@x",
            "`x",
            "|",
            ">",
            "?",
            "",
            " lead",
            "trail ",
            "two\nlines",
            "end\n",
            "tab\there",
            "ünïcödé ✓",
        ])
        .prop_map(str::to_string),
        any::<String>().prop_filter("no control characters YAML cannot hold", |s| {
            !s.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        }),
    ]
    .prop_filter(
        "YAML 1.1 booleans and line breaks: see the module comment",
        |s| {
            let yaml_1_1_bool = pg_yaml::parse_bool(s).is_some()
                && !matches!(s.to_ascii_lowercase().as_str(), "true" | "false");
            !yaml_1_1_bool && !s.contains(['\u{2028}', '\u{2029}'])
        },
    )
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(text(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn what_libyaml_writes_reads_back_as_the_same_value(v in value()) {
        let yaml = serde_yaml_ng::to_string(&v).expect("serde_yaml_ng writes any JSON value");
        let back: Value = pg_yaml::from_str(&yaml)
            .map_err(|e| TestCaseError::fail(format!("{e}\n--- yaml:\n{yaml}")))?;
        prop_assert_eq!(back, v, "yaml:\n{}", yaml);
    }
}
