//! Helpers shared by the cluster tests: a running pg-testenv control plane, the seed's
//! kubectl+jq pipeline, and waiting for controllers.

#![allow(dead_code)]

use pg_cluster::ClusterOptions;
use pg_model::{ClassRef, Object, WorkloadKind};
use pg_testenv::{Options, TestCluster};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn start(opts: Options) -> TestCluster {
    TestCluster::start(opts).unwrap_or_else(|e| panic!("starting test cluster: {e:#}"))
}

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

pub fn opts_for(kubeconfig: &Path) -> ClusterOptions {
    ClusterOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        ..ClusterOptions::default()
    }
}

pub fn pod_yaml(namespace: &str, name: &str, class: Option<&str>) -> String {
    let class = class
        .map(|c| format!("  priorityClassName: {c}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{class}  containers:\n  - name: main\n    image: registry.invalid/pause:3.10\n"
    )
}

/// The seed's check, run for real against the test apiserver:
/// `kubectl get pods -A -o json | jq -r '.items[] | select (.spec.priorityClassName == null) | ...'`
pub fn seed_jq(cluster: &TestCluster) -> BTreeSet<(String, String)> {
    let script = format!(
        "'{kubectl}' --kubeconfig='{kc}' get pods -A -o json | /usr/bin/jq -r '.items[] | select (.spec.priorityClassName == null) | \"Namespace: \" + .metadata.namespace + \" Name: \" + .metadata.name'",
        kubectl = cluster.bin_dir().join("kubectl").display(),
        kc = cluster.kubeconfig_path().display(),
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -o pipefail; {script}"))
        .env_remove("KUBECONFIG")
        .output()
        .expect("running kubectl | jq");
    assert!(
        out.status.success(),
        "kubectl | jq failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let rest = l.strip_prefix("Namespace: ").expect(l);
            let (ns, name) = rest.split_once(" Name: ").expect(l);
            (ns.to_string(), name.to_string())
        })
        .collect()
}

/// Pods without `priorityClassName` among loaded objects.
pub fn loaded_pods_without_class(objects: &[Object]) -> BTreeSet<(String, String)> {
    objects
        .iter()
        .filter_map(|o| match o {
            Object::Workload(w)
                if w.kind == WorkloadKind::Pod
                    && matches!(w.pod.priority_class, ClassRef::Missing) =>
            {
                Some((w.namespace.clone().unwrap_or_default(), w.name.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Polls `cond` every 250 ms for up to `secs`; panics with `what` when it never holds.
pub fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out after {secs}s waiting for {what}");
}

/// `kubectl get pods -n NS -o name` lines (as `pod/NAME`).
pub fn pod_names(cluster: &TestCluster, namespace: &str) -> Vec<String> {
    cluster
        .kubectl_ok(&["get", "pods", "-n", namespace, "-o", "name"], None)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `apply()` that stops after the server-side dry run.
pub const DRY_RUN: pg_cluster::ApplyMode = pg_cluster::ApplyMode {
    dry_run_only: true,
    force_conflicts: false,
};

/// `apply()` for real, leaving fields other managers own alone.
pub const APPLY: pg_cluster::ApplyMode = pg_cluster::ApplyMode {
    dry_run_only: false,
    force_conflicts: false,
};
