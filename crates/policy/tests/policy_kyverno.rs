//! The generated Kyverno policies through the real Kyverno CLI (built from its Go module by
//! scripts/policy-engines): `kyverno apply` and `kyverno test` reach the same verdicts as
//! `priorityguard audit` on the upstream corpus and the hand-written cases, for the CEL
//! policies (`policies.kyverno.io/v1` ValidatingPolicy, MutatingPolicy; the default) and the
//! legacy ClusterPolicies (`--kyverno-api legacy`) alike.

mod common;

use common::*;
use pg_policy::{Engine, Mode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(kyverno: &Path, args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new(kyverno)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("kyverno runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `kyverno apply` with a policy report: the workloads that fail and those that pass.
fn apply(kyverno: &Path, policy: &Path, file: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let dir = policy.parent().unwrap();
    let (_, text) = run(
        kyverno,
        &[
            "apply",
            &policy.display().to_string(),
            "--resource",
            &file.display().to_string(),
            "--policy-report",
            "--output-format",
            "json",
        ],
        dir,
    );
    // A deprecation warning for ClusterPolicy precedes the report on stdout.
    let json = &text[text
        .find('{')
        .unwrap_or_else(|| panic!("no report: {text}"))..];
    let report: Value = serde_json::Deserializer::from_str(json)
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}: {text}"));
    let (mut fail, mut pass) = (BTreeSet::new(), BTreeSet::new());
    for r in report["results"].as_array().into_iter().flatten() {
        assert!(
            r["result"] == "pass" || r["result"] == "fail",
            "{}: {r}",
            file.display()
        );
        for res in r["resources"].as_array().unwrap() {
            let k = key(
                res["namespace"].as_str().unwrap_or(""),
                res["kind"].as_str().unwrap(),
                res["name"].as_str().unwrap(),
            );
            if r["result"] == "fail" {
                fail.insert(k);
            } else {
                pass.insert(k);
            }
        }
    }
    (fail, pass)
}

#[test]
fn policy_kyverno_apply_gives_audits_verdicts() {
    let Some(kyverno) = engine("kyverno") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cases = vec![data("verdict-cases.yaml")];
    // The ValidatingPolicy and the ClusterPolicy in each mode, and the
    // ValidatingAdmissionPolicy document itself (Kyverno evaluates VAPs with the API server's
    // own library).
    let runs = [
        (Engine::Kyverno, Mode::Enforce, corpus_and_cases()),
        (Engine::Kyverno, Mode::Warn, cases.clone()),
        (Engine::Kyverno, Mode::Audit, cases.clone()),
        (Engine::KyvernoLegacy, Mode::Enforce, corpus_and_cases()),
        (Engine::KyvernoLegacy, Mode::Warn, cases.clone()),
        (Engine::KyvernoLegacy, Mode::Audit, cases),
        (Engine::Vap, Mode::Enforce, corpus_and_cases()),
    ];
    for (engine, mode, files) in runs {
        let policy = write(dir.path(), "policy.yaml", &generate(engine, Some(mode)));
        for file in files {
            let files = [file.clone()];
            let workloads = workloads(&files);
            let (fail, pass) = apply(&kyverno, &policy, &file);
            let what = format!("{} ({engine:?}, {mode:?})", file.display());
            assert_eq!(fail, audit_failures(&files, None), "{what}");
            // Every workload was judged: none skipped, none in error.
            let judged: BTreeSet<String> = fail
                .union(&pass)
                .filter(|k| workloads.contains(*k))
                .cloned()
                .collect();
            assert_eq!(judged, workloads, "{what}");
        }
    }
}

#[test]
fn policy_kyverno_mutate_sets_exactly_what_audit_recommends() {
    // The MutatingPolicy mutates pod templates only; the legacy ClusterPolicy Pods too.
    mutate_sets_what_audit_recommends(Engine::Kyverno, false);
    mutate_sets_what_audit_recommends(Engine::KyvernoLegacy, true);
}

fn mutate_sets_what_audit_recommends(engine_api: Engine, pods: bool) {
    let Some(kyverno) = engine("kyverno") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mutate.yaml",
        &generate(engine_api, Some(Mode::Mutate)),
    );
    let validate = write(dir.path(), "validate.yaml", &generate(engine_api, None));
    for file in corpus_and_cases() {
        let files = [file.clone()];
        let mutated = dir.path().join("mutated.yaml");
        let _ = std::fs::remove_file(&mutated);
        let (ok, text) = run(
            &kyverno,
            &[
                "apply",
                "mutate.yaml",
                "--resource",
                &file.display().to_string(),
                "-o",
                "mutated.yaml",
            ],
            dir.path(),
        );
        assert!(ok, "{text}");
        // What changed: workloads that had no class and now have one.
        let before: BTreeMap<String, Value> = classes(&std::fs::read_to_string(&file).unwrap());
        let after: BTreeMap<String, Value> = classes(&std::fs::read_to_string(&mutated).unwrap());
        let set: BTreeMap<String, String> = after
            .iter()
            .filter(|(k, v)| before[*k] != **v)
            .map(|(k, v)| {
                let old = &before[k];
                assert!(
                    old.is_null() || *old == "",
                    "{k}: class {old} overwritten with {v}"
                );
                (k.clone(), v.as_str().unwrap().to_string())
            })
            .collect();
        let expected: BTreeMap<String, String> = audit_missing_classes(&files)
            .into_iter()
            .filter(|(k, _)| pods || k.split('/').nth(1) != Some("Pod"))
            .collect();
        assert_eq!(set, expected, "{} ({engine_api:?})", file.display());

        // After mutation, validation fails only the weak classes.
        let (fail, _) = apply(&kyverno, &validate, &mutated);
        let weak: BTreeSet<String> = audit_failures(&files, None)
            .into_iter()
            .filter(|k| !expected.contains_key(k))
            .collect();
        assert_eq!(fail, weak, "{} ({engine_api:?})", file.display());
    }
}

/// `namespace/Kind/name` -> priorityClassName (null when unset) of every workload.
fn classes(yaml: &str) -> BTreeMap<String, Value> {
    documents(yaml)
        .into_iter()
        .filter_map(|d| {
            let spec = match d["kind"].as_str()? {
                "Pod" => &d["spec"],
                "CronJob" => &d["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                "Deployment"
                | "DaemonSet"
                | "StatefulSet"
                | "ReplicaSet"
                | "ReplicationController"
                | "Job" => &d["spec"]["template"]["spec"],
                _ => return None,
            };
            Some((
                key(
                    d["metadata"]["namespace"].as_str().unwrap_or(""),
                    d["kind"].as_str().unwrap(),
                    d["metadata"]["name"].as_str().unwrap(),
                ),
                spec["priorityClassName"].clone(),
            ))
        })
        .collect()
}

#[test]
fn policy_kyverno_test_declares_audits_verdicts() {
    test_declares_audits_verdicts(Engine::Kyverno);
    test_declares_audits_verdicts(Engine::KyvernoLegacy);
}

fn test_declares_audits_verdicts(engine_api: Engine) {
    let Some(kyverno) = engine("kyverno") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.yaml", &generate(engine_api, None));
    let cases = data("verdict-cases.yaml");
    let files = [cases.clone()];
    let failures = audit_failures(&files, None);
    let result = |k: &str, result: &str, operation: &str| {
        let mut parts = k.splitn(3, '/');
        let (ns, kind, name) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let mut r = json!({
            "policy": "priorityguard-critical-class",
            "kind": kind,
            "operation": operation,
            "resources": [format!("{ns}/{name}")],
            "result": result,
        });
        match engine_api {
            Engine::KyvernoLegacy => r["rule"] = json!("critical-class"),
            _ => r["isValidatingPolicy"] = json!(true),
        }
        r
    };
    let mut results: Vec<Value> = workloads(&files)
        .iter()
        .map(|k| {
            let verdict = if failures.contains(k) { "fail" } else { "pass" };
            result(k, verdict, "CREATE")
        })
        .collect();
    // An update that leaves the spec alone is not judged: an object older than the policy
    // keeps taking metadata writes.
    results.push(result("cases/DaemonSet/node-agent", "skip", "UPDATE"));
    let test = json!({
        "apiVersion": "cli.kyverno.io/v1alpha1",
        "kind": "Test",
        "metadata": {"name": "priorityguard-verdicts"},
        "policies": ["policy.yaml"],
        "resources": [cases.display().to_string()],
        "results": results,
    });
    write(
        dir.path(),
        "kyverno-test.yaml",
        &serde_json::to_string_pretty(&test).unwrap(),
    );
    let (ok, text) = run(&kyverno, &["test", "."], dir.path());
    assert!(ok, "{engine_api:?}: {text}");
    assert!(
        text.contains(&format!(
            "Test Summary: {} tests passed and 0 tests failed",
            results.len()
        )),
        "{text}"
    );
}
