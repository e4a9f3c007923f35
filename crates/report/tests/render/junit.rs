//! The JUnit output must be XML that CI servers can parse, with counts that match its cases.

use crate::fixture::{clean_report, fleet_report, options, render_to_string, report};
use pg_model::Report;
use pg_report::Format;

fn parse(report: &Report) -> String {
    let xml = render_to_string(Format::Junit, report, &options(false));
    roxmltree::Document::parse(&xml).expect("JUnit output is well-formed XML");
    xml
}

#[test]
fn counts_match_the_test_cases() {
    let xml = parse(&report());
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let count = |tag: &str| {
        cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name(tag)))
            .count()
            .to_string()
    };
    assert_eq!(
        suite.attribute("tests"),
        Some(cases.len().to_string().as_str())
    );
    assert_eq!(suite.attribute("failures"), Some(count("failure").as_str()));
    assert_eq!(suite.attribute("errors"), Some(count("error").as_str()));
    assert_eq!(suite.attribute("skipped"), Some(count("skipped").as_str()));
    assert_eq!(count("failure"), "5");
    assert_eq!(count("system-out"), "1");
}

#[test]
fn special_characters_round_trip() {
    let mut report = report();
    let finding = &mut report.findings[0];
    finding.message = "a <b> & \"c\" 'd'\nsecond line\u{1}".to_string();
    finding.severity = pg_model::Severity::Error;
    let xml = parse(&report);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failure = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("failure") && n.attribute("message").is_some_and(|m| m.starts_with("a "))
        })
        .expect("the failure with the special message");
    // The one character XML cannot hold is replaced; everything else survives.
    let expected = "a <b> & \"c\" 'd'\nsecond line\u{fffd}";
    assert_eq!(failure.attribute("message"), Some(expected));
    assert!(failure.text().unwrap().starts_with(expected));
}

#[test]
fn clean_report_has_one_passing_case() {
    let xml = parse(&clean_report());
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 1);
    assert!(cases[0].children().all(|n| !n.is_element()));
}

#[test]
fn a_fleet_has_one_suite_per_cluster_with_matching_counts() {
    let xml = parse(&fleet_report());
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<&str> = suites.iter().filter_map(|s| s.attribute("name")).collect();
    assert_eq!(
        names,
        [
            "priorityguard: prod",
            "priorityguard: staging",
            "priorityguard: edge|1"
        ]
    );
    let mut total = 0;
    for suite in &suites {
        let cases = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .count();
        assert_eq!(suite.attribute("tests"), Some(cases.to_string().as_str()));
        total += cases;
    }
    let root = doc.root_element();
    assert_eq!(root.attribute("tests"), Some(total.to_string().as_str()));
    let edge = suites[2];
    assert_eq!(edge.attribute("errors"), Some("1"));
    assert!(
        edge.descendants()
            .any(|n| n.has_tag_name("error") && n.attribute("type") == Some("cluster-error"))
    );
}
