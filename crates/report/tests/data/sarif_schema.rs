//! Validation against the official OASIS SARIF 2.1.0 schema (sarif-schema-2.1.0.json beside
//! this file, see README.md), shared by the report crate's tests and the CLI's integration
//! tests (`#[path]` module).

use serde_json::Value;

/// The official schema, with its one pattern that is not a valid regex for `jsonschema`
/// repaired in memory: `run.language`'s pattern has a stray `]`, which only web browsers'
/// legacy regex syntax reads as a literal. Escaping it keeps that meaning (and we never emit
/// `language` anyway).
pub fn schema() -> Value {
    const STRAY: &str = "-[a-zA-Z]{2}]?$";
    const ESCAPED: &str = "-[a-zA-Z]{2}\\\\]?$";
    let text = include_str!("sarif-schema-2.1.0.json");
    assert!(
        text.contains(STRAY),
        "the schema's language pattern changed"
    );
    serde_json::from_str(&text.replace(STRAY, ESCAPED)).expect("the schema is JSON")
}

/// Fails with every schema violation listed.
pub fn assert_valid_sarif(sarif: &Value) {
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema())
        .expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );
}
