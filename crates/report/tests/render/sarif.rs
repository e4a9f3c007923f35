//! The SARIF output must validate against the official OASIS SARIF 2.1.0 schema
//! (tests/data/sarif-schema-2.1.0.json, see tests/data/README.md).

use crate::fixture::{clean_report, options, render_to_string, report};
use pg_model::Report;
use pg_report::Format;
use serde_json::Value;

#[path = "../data/sarif_schema.rs"]
mod sarif_schema;
use sarif_schema::{assert_valid_sarif, schema};

fn validate(report: &Report) -> Value {
    let sarif: Value =
        serde_json::from_str(&render_to_string(Format::Sarif, report, &options(false)))
            .expect("SARIF output is JSON");
    assert_valid_sarif(&sarif);
    sarif
}

#[test]
fn validates_against_the_sarif_schema() {
    validate(&report());
    validate(&clean_report());
    let fleet = validate(&crate::fixture::fleet_report());
    let results = fleet["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .all(|r| r["properties"]["cluster"].is_string())
    );
    assert_eq!(
        fleet["runs"][0]["properties"]["clusters"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn schema_rejects_broken_sarif() {
    // Proves the validator really checks: a result without a message is invalid.
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    let mut sarif = validate(&report());
    sarif["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert!(!validator.is_valid(&sarif));
}

#[test]
fn results_point_at_files_or_objects() {
    let sarif = validate(&report());
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 8);
    for result in run["results"].as_array().unwrap() {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            run["tool"]["driver"]["rules"][index]["id"],
            result["ruleId"]
        );
        let location = &result["locations"][0];
        assert_eq!(location["logicalLocations"][0]["kind"], "resource");
        if let Some(physical) = location.get("physicalLocation") {
            assert_eq!(physical["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        } else {
            assert_eq!(
                location["logicalLocations"][0]["fullyQualifiedName"],
                "kube-flannel/DaemonSet/kube-flannel-ds"
            );
        }
    }
    // Same check and object: the same fingerprint whatever the line.
    let mut moved = report();
    moved.findings[3].location.as_mut().unwrap().line += 10;
    let moved = validate(&moved);
    assert_eq!(
        moved["runs"][0]["results"][3]["partialFingerprints"],
        run["results"][3]["partialFingerprints"]
    );
}
