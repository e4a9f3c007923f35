//! One directory per structural signal (`signals/<id>/`, files copied from upstream, see
//! `signals/SOURCES.tsv`): the workloads under `fires/` must be recognised by that signal, the
//! ones under `quiet/` must not. Every catalog entry is turned off, so the signal alone decides.
//! The snapshot shows what each signal says: the component, why, and the finding's severity.

use pg_catalog::{Catalog, Policy, SeverityOverride};
use pg_checks::{Config, audit};
use pg_model::CheckId;
use pg_sources::{Input, Options, load};
use std::path::Path;

fn signals_only() -> Catalog {
    let mut catalog = Catalog::builtin();
    let policy = Policy {
        recognition: catalog
            .entries()
            .iter()
            .map(|e| (e.id.clone(), SeverityOverride::Off))
            .collect(),
        ..Policy::default()
    };
    catalog.apply(&policy).unwrap();
    catalog
}

/// `object: component (severity): matched_by` for each workload `id` recognises in `dir`.
fn recognised(catalog: &Catalog, dir: &Path, id: &str) -> Vec<String> {
    let loaded = load(&[Input::Path(dir.to_path_buf())], &Options::default());
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let result = audit(
        &loaded.objects,
        catalog,
        &Config::new(false, &Policy::default()),
    );
    result
        .components
        .iter()
        .filter(|c| c.component.id == id)
        .map(|c| {
            let severity = result
                .findings
                .iter()
                .find(|f| f.object == c.object && f.check == CheckId::CriticalWithoutPriority)
                .map_or("protected".to_string(), |f| f.severity.to_string());
            format!(
                "{}: {} ({severity}): {}",
                c.object, c.component.name, c.component.matched_by
            )
        })
        .collect()
}

#[test]
fn every_signal_fires_on_its_fixtures_and_stays_quiet_on_the_others() {
    let catalog = signals_only();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/signals");
    let mut report = Vec::new();
    for signal in Catalog::builtin().signals() {
        let dir = root.join(&signal.id);
        let fired = recognised(&catalog, &dir.join("fires"), &signal.id);
        assert!(
            !fired.is_empty(),
            "{}: nothing under fires/ recognised",
            signal.id
        );
        let quiet = recognised(&catalog, &dir.join("quiet"), &signal.id);
        assert!(
            quiet.is_empty(),
            "{}: recognised under quiet/: {quiet:#?}",
            signal.id
        );
        report.push(format!("{}\n  {}", signal.id, fired.join("\n  ")));
    }
    insta::assert_snapshot!(report.join("\n"));
}
