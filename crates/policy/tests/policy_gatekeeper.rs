//! The generated Gatekeeper ConstraintTemplate + Constraint through the real `gator` CLI (built
//! from its Go module by scripts/policy-engines): `gator test` and `gator verify` reach the
//! same verdicts as `priorityguard audit`.

mod common;

use common::*;
use pg_policy::{Engine, Mode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn gator(bin: &Path, args: &[&str], dir: &Path) -> (bool, String, String) {
    let out = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("gator runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes the template and constraint into `dir/policy/`.
fn write_policy(dir: &Path, mode: Mode) {
    let policy = dir.join("policy");
    std::fs::create_dir_all(&policy).unwrap();
    let (_, catalog) = catalog(None);
    let docs = pg_policy::generate(
        &catalog,
        &pg_policy::Options {
            engine: Engine::Gatekeeper,
            mode: Some(mode),
            checks: pg_policy::Checks::default(),
        },
    )
    .unwrap();
    for d in docs {
        std::fs::write(policy.join(d.file_name), d.text).unwrap();
    }
}

/// The objects `gator test` reports violations for.
fn violations(bin: &Path, dir: &Path, file: &Path, deny_only: bool) -> BTreeSet<String> {
    let file = file.display().to_string();
    let mut args = vec!["test", "-f", "policy", "-f", &file, "-o", "json"];
    if deny_only {
        args.push("--deny-only");
    }
    let (_, stdout, stderr) = gator(bin, &args, dir);
    // No violations: `null`.
    let results: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    results
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let o = &r["violatingObject"];
            assert!(
                r["msg"].as_str().unwrap().starts_with("priorityguard: "),
                "{r}"
            );
            key(
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect()
}

#[test]
fn policy_gator_test_gives_audits_verdicts() {
    let Some(bin) = engine("gator") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_policy(dir.path(), Mode::Enforce);
    for file in corpus_and_cases() {
        assert_eq!(
            violations(&bin, dir.path(), &file, false),
            audit_failures(std::slice::from_ref(&file), None),
            "{}",
            file.display()
        );
    }
    // --mode warn still reports every violation, but none of them denies.
    let dir = tempfile::tempdir().unwrap();
    write_policy(dir.path(), Mode::Warn);
    let cases = data("verdict-cases.yaml");
    assert!(!violations(&bin, dir.path(), &cases, false).is_empty());
    assert!(violations(&bin, dir.path(), &cases, true).is_empty());
}

#[test]
fn policy_gator_verify_suite_from_audit() {
    let Some(bin) = engine("gator") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_policy(dir.path(), Mode::Enforce);
    // One case per workload of the corpus and the hand-written cases, each expecting what
    // audit says about it; gator verify wants one object per file.
    let objects = dir.path().join("objects");
    std::fs::create_dir_all(&objects).unwrap();
    let mut cases = Vec::new();
    for file in corpus_and_cases() {
        let failures = audit_failures(std::slice::from_ref(&file), None);
        let workloads = workloads(std::slice::from_ref(&file));
        for doc in documents(&std::fs::read_to_string(&file).unwrap()) {
            let k = key(
                doc["metadata"]["namespace"].as_str().unwrap_or(""),
                doc["kind"].as_str().unwrap_or(""),
                doc["metadata"]["name"].as_str().unwrap_or(""),
            );
            if !workloads.contains(&k) {
                continue;
            }
            let name = format!("{:03}-{}", cases.len(), k.replace('/', "_"));
            std::fs::write(
                objects.join(format!("{name}.yaml")),
                serde_json::to_string(&doc).unwrap(),
            )
            .unwrap();
            let violations = if failures.contains(&k) { "yes" } else { "no" };
            cases.push(json!({
                "name": name,
                "object": format!("objects/{name}.yaml"),
                "assertions": [{"violations": violations}],
            }));
        }
    }
    assert!(cases.len() > 40, "{}", cases.len());
    let suite = json!({
        "kind": "Suite",
        "apiVersion": "test.gatekeeper.sh/v1alpha1",
        "metadata": {"name": "priorityguard-verdicts"},
        "tests": [{
            "name": "critical-class",
            "template": "policy/01-constrainttemplate.yaml",
            "constraint": "policy/02-constraint.yaml",
            "cases": cases,
        }],
    });
    std::fs::write(
        dir.path().join("suite.yaml"),
        serde_json::to_string_pretty(&suite).unwrap(),
    )
    .unwrap();
    let (ok, stdout, stderr) = gator(&bin, &["verify", "-v", "suite.yaml"], dir.path());
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("ok"), "{stdout}{stderr}");
}
