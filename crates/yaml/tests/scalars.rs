//! The shared scalar rule: strings YAML 1.1 (sigs.k8s.io/yaml) or YAML 1.2 would read as
//! something else are quoted, and every string written comes back as the same string.

use pg_yaml::write::{block_yaml, scalar};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What pg-yaml reads `s` back as, untyped, as a mapping value and as a flow sequence item.
fn read_back(s: &str) -> (Value, Value) {
    let written = scalar(s);
    let map: BTreeMap<String, Value> =
        pg_yaml::from_str(&format!("key: {written}\n")).expect("valid YAML");
    let flow: BTreeMap<String, Vec<Value>> =
        pg_yaml::from_str(&format!("key: [{written}, x]\n")).expect("valid YAML");
    (map["key"].clone(), flow["key"][0].clone())
}

#[test]
fn words_and_numbers_that_are_not_strings_in_yaml_1_1_are_quoted() {
    for s in [
        "yes",
        "Yes",
        "YES",
        "No",
        "no",
        "ON",
        "on",
        "Off",
        "off",
        "y",
        "Y",
        "n",
        "N",
        "true",
        "False",
        "~",
        "null",
        "Null",
        "NULL",
        "",
        "1e3",
        "0x1F",
        "012",
        "0o17",
        "0b101",
        "1:20",
        "190:20:30.15",
        "1_000",
        "1000",
        "-1",
        "+1",
        ".5",
        "1.",
        "0.1.0",
        ".inf",
        "-.Inf",
        ".NaN",
        "nan",
        "2001-12-14",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5",
    ] {
        let written = scalar(s);
        assert!(
            written.starts_with('"'),
            "{s:?} must be quoted, got {written}"
        );
        assert_eq!(read_back(s), (json!(s), json!(s)), "{s:?}");
    }
}

#[test]
fn indicators_and_special_characters_are_quoted() {
    for s in [
        "- item",
        "-x",
        "?x",
        ":x",
        "a: b",
        "a:",
        "a #b",
        "#x",
        "&a",
        "*a",
        "!tag",
        "|",
        ">",
        "'q'",
        "\"q\"",
        "%x",
        "@x",
        "`x`",
        "a,b",
        "[a]",
        "{a}",
        "<<",
        "=",
        " lead",
        "trail ",
        "two\nlines",
        "tab\there",
        "nel\u{85}",
        "ls\u{2028}",
        "back\\slash",
    ] {
        let written = scalar(s);
        if s == "back\\slash" {
            // A backslash is an ordinary character in a plain scalar.
            assert_eq!(written, s);
        } else {
            assert!(
                written.starts_with('"'),
                "{s:?} must be quoted, got {written}"
            );
        }
        assert_eq!(read_back(s), (json!(s), json!(s)), "{s:?}");
    }
}

#[test]
fn ordinary_names_stay_plain() {
    for s in [
        "system-node-critical",
        "system-cluster-critical",
        "kube-system/coredns",
        "apps/web/deployment.yaml",
        "/etc/cni/net.d",
        "50Mi",
        "4Gi",
        "v1.29",
        "yesterday",
        "only",
        "nginx:1.25",
        "the class's value",
        "evicted 3rd of 40 under memory pressure; immune after fix",
        "café",
    ] {
        assert_eq!(scalar(s), s, "{s:?} should stay plain");
        assert_eq!(read_back(s), (json!(s), json!(s)), "{s:?}");
    }
}

#[test]
fn block_yaml_reads_back_as_the_same_document() {
    let doc = json!({
        "name": "yes",
        "count": 3,
        "ratio": 0.5,
        "on": true,
        "none": null,
        "tags": ["012", "y", "plain words", "a: b"],
        "nested": {"list": [{"k": "1:20", "l": []}, [1, 2]], "empty": {}},
    });
    let yaml = block_yaml(&doc.to_string()).unwrap();
    let back: Value = pg_yaml::from_str(&yaml).unwrap();
    assert_eq!(back, doc, "{yaml}");
}
