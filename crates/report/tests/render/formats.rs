//! The JSON contract (see docs/output-formats.md) and YAML carrying the same document.

use crate::fixture::{clean_report, fleet_report, options, render_to_string, report};
use pg_report::Format;
use serde_json::{Value, json};

fn json_document() -> Value {
    serde_json::from_str(&render_to_string(Format::Json, &report(), &options(false)))
        .expect("JSON output parses")
}

#[test]
fn json_has_the_documented_top_level_fields() {
    let doc = json_document();
    let mut keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "components",
            "findings",
            "problems",
            "schema_version",
            "stats",
            "summary",
            "tool"
        ]
    );
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(
        doc["tool"],
        json!({"name": "priorityguard", "version": "0.1.0"})
    );
    assert_eq!(
        doc["summary"],
        json!({"errors": 3, "warnings": 2, "infos": 1, "input_errors": 1})
    );
    assert_eq!(doc["findings"].as_array().unwrap().len(), 6);
}

/// Checked with an independent reader (serde_yaml_ng) and with ours, on every fixture.
#[test]
fn yaml_carries_the_same_document_as_json() {
    for report in [report(), clean_report(), fleet_report()] {
        let yaml = render_to_string(Format::Yaml, &report, &options(false));
        let json: Value =
            serde_json::from_str(&render_to_string(Format::Json, &report, &options(false)))
                .expect("JSON output parses");
        let from_yaml: Value = serde_yaml_ng::from_str(&yaml).expect("YAML output parses");
        assert_eq!(from_yaml, json);
        let from_pg_yaml: Value = pg_yaml::from_str(&yaml).expect("YAML output parses");
        assert_eq!(from_pg_yaml, json);
    }
}

#[test]
fn github_commands_are_one_per_line() {
    let output = render_to_string(Format::Github, &report(), &options(false));
    let lines: Vec<&str> = output.lines().collect();
    // 6 findings, 1 input error, 1 skipped input.
    assert_eq!(lines.len(), 8);
    assert!(lines.iter().all(|l| l.starts_with("::")));
    let flannel = lines
        .iter()
        .find(|l| l.contains("kube-flannel-ds"))
        .unwrap();
    assert!(
        !flannel.contains("file="),
        "cluster findings carry no file: {flannel}"
    );
}
