//! Runs the whole fix pipeline the way the CLI does: real sources, the audit, then the fixer.
#![allow(dead_code)]

use pg_catalog::{Catalog, Policy};
use pg_checks::Config;
use pg_fix::{Change, Fixer, Note, Options, Outcome, Source};
use pg_model::Finding;
use pg_sources::Input;
use std::path::{Path, PathBuf};

pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

pub fn audit(paths: &[PathBuf]) -> Vec<Finding> {
    let inputs: Vec<Input> = paths.iter().cloned().map(Input::Path).collect();
    let loaded = pg_sources::load(&inputs, &pg_sources::Options::default());
    assert!(
        loaded.problems.iter().all(|p| p.skipped),
        "{:?}",
        loaded.problems
    );
    let config = Config::new(false, &Policy::default());
    pg_checks::audit(&loaded.objects, &Catalog::builtin(), &config).findings
}

/// Loads and audits `paths` (files or directories) as the CLI does, then hands `then` a fixer
/// and the findings.
fn with_fixer<T>(
    paths: &[PathBuf],
    opts: Options,
    then: impl FnOnce(&Fixer, &[Finding]) -> T,
) -> T {
    let inputs: Vec<Input> = paths.iter().cloned().map(Input::Path).collect();
    let loaded = pg_sources::load(&inputs, &pg_sources::Options::default());
    assert!(
        loaded.problems.iter().all(|p| p.skipped),
        "{:?}",
        loaded.problems
    );
    let catalog = Catalog::builtin();
    let config = Config::new(false, &Policy::default());
    let findings = pg_checks::audit(&loaded.objects, &catalog, &config).findings;
    let fixer = Fixer::new(&loaded.objects, &catalog, &config, opts);
    then(&fixer, &findings)
}

/// Fixes `paths` (files or directories) in memory.
pub fn fix(paths: &[PathBuf], opts: Options) -> Outcome {
    with_fixer(paths, opts, |fixer, findings| {
        fixer.apply(fixer.plan(findings, |name| Source::read(Path::new(name))))
    })
}

/// The changes `fix --emit` renders for `paths`, and the notes of the findings left alone.
pub fn planned(paths: &[PathBuf], opts: Options) -> (Vec<Change>, Vec<Note>) {
    with_fixer(paths, opts, |fixer, findings| {
        let plan = fixer.plan(findings, |name| Source::read(Path::new(name)));
        assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        (plan.changes().cloned().collect(), plan.notes)
    })
}

/// Fixes one file and returns its text before and after (panics on errors).
pub fn fix_one(path: &Path) -> (String, String) {
    let outcome = fix(&[path.to_path_buf()], Options::default());
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.notes.is_empty(), "{:?}", outcome.notes);
    let before = std::fs::read_to_string(path).unwrap();
    let after = match outcome.files.as_slice() {
        [] => before.clone(),
        [one] => one.after.clone(),
        more => panic!("{} files changed", more.len()),
    };
    (before, after)
}

/// The lines `after` has that `before` has not, once every line of `before` is matched in
/// order, byte for byte (line breaks included); panics if a line of `before` is missing.
pub fn added_lines(before: &str, after: &str) -> Vec<(usize, String)> {
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    let mut added = Vec::new();
    let mut i = 0;
    for (n, line) in new.iter().enumerate() {
        if i < old.len() && old[i] == *line {
            i += 1;
        } else {
            added.push((n + 1, line.to_string()));
        }
    }
    assert_eq!(i, old.len(), "a line of the original is missing or changed");
    added
}

/// Multus, a node agent, with `spec` as its pod spec's keys before `containers`.
pub fn multus(spec: &str) -> String {
    format!(
        "\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-multus-ds
  namespace: kube-system
spec:
  selector:
    matchLabels:
      name: multus
  template:
    metadata:
      labels:
        name: multus
    spec:
      hostNetwork: true
{spec}      containers:
      - name: kube-multus
        image: ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0
"
    )
}
