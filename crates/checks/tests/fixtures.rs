//! One fixture directory per check (`fixtures/<check-id>/`): `quiet.yaml` holds near misses the
//! check must stay quiet on, every other file cases it must fire on (ruff's convention). Each
//! is read through the real sources and audited with `--all`; what fires is snapshotted, the
//! findings of that check one line each.

use pg_catalog::{Catalog, Policy};
use pg_checks::{Config, audit};
use pg_model::{CheckId, Finding};
use pg_sources::{Input, Options, load};
use std::path::{Path, PathBuf};

const QUIET: &str = "quiet.yaml";

fn fixture_dir(check: CheckId) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(check.as_str())
}

/// The findings of `check` in `files`, audited together.
fn audit_files(check: CheckId, files: Vec<PathBuf>) -> Vec<Finding> {
    let inputs: Vec<Input> = files.into_iter().map(Input::Path).collect();
    let loaded = load(&inputs, &Options::default());
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    audit(
        &loaded.objects,
        &Catalog::builtin(),
        &Config::new(true, &Policy::default()),
    )
    .findings
    .into_iter()
    .filter(|f| f.check == check)
    .collect()
}

fn fires_on(check: CheckId) -> String {
    let dir = fixture_dir(check);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != QUIET))
        .collect();
    files.sort();
    let root = dir.display().to_string();
    let lines: Vec<String> = audit_files(check, files)
        .iter()
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
        let out = fires_on(check);
        insta::assert_snapshot!(check.as_str(), out);
    }
}

#[test]
fn every_check_stays_quiet_on_its_quiet_fixture() {
    for check in CheckId::ALL {
        let quiet = fixture_dir(check).join(QUIET);
        assert!(quiet.is_file(), "{check}: {} is missing", quiet.display());
        let found = audit_files(check, vec![quiet]);
        assert!(found.is_empty(), "{check}: {found:#?}");
    }
}
