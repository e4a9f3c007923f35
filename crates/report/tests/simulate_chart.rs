//! `--chart`'s SVG: well-formed XML (parsed by roxmltree), naming every pod it charts — each
//! ranked and immune pod of the eviction view, the pending pod and every victim of the
//! preemption view, before and after the fixes — and the nominated node.

use pg_simulate::Outcome;
use pg_simulate::{Assume, Options, Pressure, Simulation};
use pg_sources::snapshot::Builder;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../simulate/tests/data/seed-outage"
);

fn simulation(node: Option<&str>, pending: bool) -> Simulation {
    let mut b = Builder::default();
    b.add_file(&format!("{DATA}/snapshot.json")).unwrap();
    let snapshot = b.finish();
    let usage = pg_sources::snapshot::usage::load(&format!("{DATA}/usage.yaml")).unwrap();
    let pending = pending.then(|| {
        let path = format!("{DATA}/pending-reindex.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        pg_sources::snapshot::pending_pod(&text, &path, &snapshot, node).unwrap()
    });
    let opts = Options {
        node: node.map(str::to_string),
        pressure: Pressure::Memory,
        assume: Assume::Requests,
        pending,
        with_fixes: true,
    };
    let catalog = pg_catalog::Catalog::builtin();
    pg_simulate::simulate(&snapshot, &catalog, &usage, &opts).unwrap()
}

/// Every text node of the SVG, after checking that it parses and is an `<svg>`.
fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the chart is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect()
}

fn names(texts: &[String], what: &str) -> bool {
    texts.iter().any(|t| t.contains(what))
}

#[test]
fn chart_is_valid_svg_naming_every_pod_of_both_views() {
    let sim = simulation(Some("node-a"), true);
    let svg = pg_report::simulate::chart::svg(&sim).unwrap();
    let texts = texts(&svg);
    let eviction = sim.eviction.as_ref().unwrap();
    let mut expected = Vec::new();
    for order in std::iter::once(&eviction.before).chain(&eviction.after) {
        expected.extend(order.order.iter().map(|r| r.pod.clone()));
        expected.extend(order.immune.iter().map(|i| i.pod.clone()));
    }
    let preemption = sim.preemption.as_ref().unwrap();
    for p in std::iter::once(&preemption.before).chain(&preemption.after) {
        expected.push(p.pod.clone());
        match &p.result {
            Outcome::Preempts { node, victims, .. } => {
                expected.push(format!("node {node}"));
                expected.extend(victims.iter().map(|v| format!("deleted: {}", v.pod)));
            }
            other => panic!("the seed's pending pod preempts: {other:?}"),
        }
    }
    assert!(expected.len() > 20, "{expected:?}");
    for e in &expected {
        assert!(names(&texts, e), "the chart does not name {e}:\n{svg}");
    }
    assert!(names(&texts, "deleted: shop/batch-import-28k4q"));
    assert!(names(&texts, "Preemption for shop/nightly-reindex"));
}

#[test]
fn chart_of_the_preemption_alone_and_nothing_to_chart() {
    let sim = simulation(None, true);
    let svg = pg_report::simulate::chart::svg(&sim).unwrap();
    let texts = texts(&svg);
    assert!(names(&texts, "pending: shop/nightly-reindex"));
    assert!(!names(&texts, "Eviction order"));
    let sim = simulation(None, false);
    assert!(pg_report::simulate::chart::svg(&sim).is_none());
}
