//! One fixture directory per check (`fixtures/<check-id>/`), read through the real sources,
//! audited with `--all`, and snapshotted: the findings of that check, one line each.

use pg_catalog::{Catalog, Policy};
use pg_checks::{Config, audit};
use pg_model::CheckId;
use pg_sources::{Input, Options, load};
use std::path::Path;

fn findings_of(check: CheckId) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(check.as_str());
    let loaded = load(&[Input::Path(dir.clone())], &Options::default());
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let result = audit(
        &loaded.objects,
        &Catalog::builtin(),
        &Config::new(true, &Policy::default()),
    );
    let root = dir.display().to_string();
    let lines: Vec<String> = result
        .findings
        .iter()
        .filter(|f| f.check == check)
        .map(|f| {
            let at = f.location.as_ref().map_or(String::new(), |l| {
                format!("{}:{}:{}", l.file.replace(&root, "."), l.line, l.column)
            });
            format!(
                "{} {} {} [{} -> {}]\n    {}",
                f.severity,
                at,
                f.object,
                f.current_class.as_deref().unwrap_or("none"),
                f.recommended_class.as_deref().unwrap_or("-"),
                f.message
            )
        })
        .collect();
    assert!(
        !lines.is_empty(),
        "{check}: the fixture must trigger the check"
    );
    lines.join("\n")
}

#[test]
fn every_check_has_a_fixture() {
    for check in CheckId::ALL {
        let out = findings_of(check);
        insta::assert_snapshot!(check.as_str(), out);
    }
}
