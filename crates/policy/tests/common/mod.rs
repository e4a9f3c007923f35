//! Helpers shared by the policy tests: generating policies, reading test data, finding the
//! real engines, and asking audit for its verdicts.
#![allow(dead_code)] // each test binary uses its own part

use pg_catalog::{Catalog, Policy};
use pg_model::CheckId;
use pg_policy::{Checks, Engine, Mode, Options};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Canonical: Go tools clean `..` lexically, which goes wrong under a symlinked checkout.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn data(name: &str) -> PathBuf {
    repo_root().join("crates/policy/tests/data").join(name)
}

/// The plain-YAML upstream manifests the engines are compared with audit on.
pub fn corpus() -> Vec<PathBuf> {
    [
        "multus-cni/multus-daemonset.yml",
        "multus-cni/multus-daemonset-thick.yml",
        "multus-cni/multus-daemonset-crio.yml",
        "metallb/metallb-native.yaml",
        "flannel/kube-flannel.yml",
        "kube-router/kubeadm-kuberouter.yaml",
        "calico/calico.yaml",
    ]
    .iter()
    .map(|f| repo_root().join("testdata/upstream").join(f))
    .collect()
}

/// The corpus plus the hand-written cases that exercise every matching rule.
pub fn corpus_and_cases() -> Vec<PathBuf> {
    let mut files = corpus();
    files.push(data("verdict-cases.yaml"));
    files
}

pub fn catalog(policy: Option<&Path>) -> (Policy, Catalog) {
    let policy = policy.map_or_else(Policy::default, |p| Policy::from_file(p).unwrap());
    let mut catalog = Catalog::builtin();
    catalog.extend(&policy.components);
    (policy, catalog)
}

/// The generated objects as one YAML stream.
pub fn generate(engine: Engine, mode: Option<Mode>) -> String {
    generate_with(engine, mode, None)
}

pub fn generate_with(engine: Engine, mode: Option<Mode>, policy: Option<&Path>) -> String {
    let (policy, catalog) = catalog(policy);
    let docs = pg_policy::generate(
        &catalog,
        &Options {
            engine,
            mode,
            checks: Checks::from_policy(&policy),
        },
    )
    .unwrap();
    pg_policy::to_stream(&docs)
}

/// Every document of a YAML stream, as JSON values (empty documents dropped).
pub fn documents(text: &str) -> Vec<serde_json::Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| {
            <serde_json::Value as serde::Deserialize>::deserialize(d).expect("valid YAML document")
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The first document of `kind` in a file.
pub fn document_of_kind(path: &Path, kind: &str) -> serde_json::Value {
    documents(&std::fs::read_to_string(path).unwrap())
        .into_iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {}", path.display()))
}

/// `namespace/Kind/name` as audit and the tests name objects.
pub fn key(ns: &str, kind: &str, name: &str) -> String {
    format!("{ns}/{kind}/{name}")
}

/// audit's findings on the files.
pub fn audit(files: &[PathBuf], policy: Option<&Path>) -> Vec<pg_model::Finding> {
    let (policy, catalog) = catalog(policy);
    let inputs: Vec<pg_sources::Input> = files
        .iter()
        .map(|f| pg_sources::Input::parse(&f.display().to_string()))
        .collect();
    let loaded = pg_sources::load(&inputs, &pg_sources::Options::default());
    assert!(
        loaded.problems.iter().all(|p| p.skipped),
        "{:?}",
        loaded.problems
    );
    pg_checks::audit(
        &loaded.objects,
        &catalog,
        &pg_checks::Config::new(false, &policy),
    )
    .findings
}

/// The workloads audit fails with critical-without-priority or critical-class-too-weak.
pub fn audit_failures(files: &[PathBuf], policy: Option<&Path>) -> BTreeSet<String> {
    failing(
        files,
        policy,
        &[
            CheckId::CriticalWithoutPriority,
            CheckId::CriticalClassTooWeak,
        ],
    )
    .into_keys()
    .collect()
}

/// audit's recommended class for each workload it fails with critical-without-priority.
pub fn audit_missing_classes(files: &[PathBuf]) -> BTreeMap<String, String> {
    failing(files, None, &[CheckId::CriticalWithoutPriority])
}

/// The workloads failing `checks`, with the class audit recommends.
fn failing(
    files: &[PathBuf],
    policy: Option<&Path>,
    checks: &[CheckId],
) -> BTreeMap<String, String> {
    audit(files, policy)
        .into_iter()
        .filter(|f| checks.contains(&f.check))
        .flat_map(|f| {
            let class = f.recommended_class.clone().unwrap_or_default();
            // Pods whose owner is not in the input are folded into an inferred owner finding;
            // the engines judge the pods themselves.
            let keys = if f.object_inferred {
                f.pods
                    .iter()
                    .map(|p| key(p.namespace.as_deref().unwrap_or(""), "Pod", &p.name))
                    .collect()
            } else {
                vec![object_key(&f.object)]
            };
            keys.into_iter().map(move |k| (k, class.clone()))
        })
        .collect()
}

fn object_key(o: &pg_model::ObjectRef) -> String {
    key(o.namespace.as_deref().unwrap_or(""), &o.kind, &o.name)
}

/// Every workload object in the files (what the engines judge).
pub fn workloads(files: &[PathBuf]) -> BTreeSet<String> {
    let kinds = [
        "Pod",
        "Deployment",
        "DaemonSet",
        "StatefulSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
    ];
    files
        .iter()
        .flat_map(|f| documents(&std::fs::read_to_string(f).unwrap()))
        .filter(|d| kinds.iter().any(|k| d["kind"] == *k))
        .map(|d| {
            key(
                d["metadata"]["namespace"].as_str().unwrap_or(""),
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect()
}

/// The engine binary built by `scripts/policy-engines`, or `None` after a loud SKIPPED line
/// (a failure when CI=true: CI must not skip silently).
pub fn engine(name: &str) -> Option<PathBuf> {
    let (var, default) = match name {
        "kyverno" => ("KYVERNO_VERSION", "v1.19.1"),
        "gator" => ("GATOR_VERSION", "v3.23.1"),
        other => panic!("unknown engine {other}"),
    };
    let path = match std::env::var_os("PRIORITYGUARD_ENGINES_BIN").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join(name),
        None => {
            let version = std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map_or(default.to_string(), |v| {
                    format!("v{}", v.trim_start_matches('v'))
                });
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
            home.join(".cache/priorityguard/engines")
                .join(format!("{name}-{version}"))
                .join("bin")
                .join(name)
        }
    };
    if path.is_file() {
        return Some(path);
    }
    pg_testenv::skip(&format!(
        "{name} not found; run scripts/policy-engines (looked for {})",
        path.display()
    ));
    None
}
