//! Smoke tests of the harness against a real control plane. Each test starts
//! its own cluster; without the binaries they print `SKIPPED` and pass (or
//! fail under `CI=true`), see `pg_testenv::require_cluster!`.

use std::time::{Duration, Instant};

use pg_testenv::{Options, TestCluster};

fn start(opts: Options) -> TestCluster {
    TestCluster::start(opts).unwrap_or_else(|e| panic!("starting test cluster: {e:#}"))
}

fn pod_yaml(namespace: &str, name: &str, priority_class: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {namespace}
spec:
  priorityClassName: {priority_class}
  containers:
  - name: main
    image: registry.invalid/pause:3.10
    resources:
      requests:
        cpu: 100m
        memory: 64Mi
"#
    )
}

#[test]
fn cluster_resolves_system_priority_class() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    cluster.kubectl_ok(&["create", "namespace", "smoke"], None);
    cluster.kubectl_ok(
        &["apply", "-f", "-"],
        Some(&pod_yaml("smoke", "critical", "system-node-critical")),
    );
    // The Priority admission plugin resolves the class name to its value.
    let priority = cluster.kubectl_ok(
        &[
            "get",
            "pod",
            "-n",
            "smoke",
            "critical",
            "-o",
            "jsonpath={.spec.priority}",
        ],
        None,
    );
    assert_eq!(priority.trim(), "2000001000");
    assert!(cluster.server_url().starts_with("https://127.0.0.1:"));
    assert!(cluster.kubeconfig_path().is_file());
}

#[test]
fn cluster_rejects_unknown_priority_class() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    let out = cluster.kubectl(&["create", "namespace", "smoke"]);
    assert!(out.status.success());
    let yaml = pod_yaml("smoke", "orphan", "no-such-class");
    let out = cluster.kubectl_with(
        cluster.kubeconfig_path(),
        &["apply", "-f", "-"],
        Some(&yaml),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "pod with unknown class was accepted");
    assert!(
        stderr.contains("no PriorityClass with name no-such-class was found"),
        "unexpected error: {stderr}"
    );
}

#[test]
fn cluster_forbids_user_without_rbac() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    let alice = cluster.kubeconfig_for_user("alice", &["developers"]);
    let out = cluster.kubectl_with(&alice, &["get", "priorityclasses"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("Forbidden") && stderr.contains("\"alice\""),
        "expected a 403 for alice: {stderr}"
    );
    // Grant read access and the same request succeeds.
    cluster.kubectl_ok(
        &[
            "create",
            "clusterrole",
            "pc-reader",
            "--verb=get,list",
            "--resource=priorityclasses",
        ],
        None,
    );
    cluster.kubectl_ok(
        &[
            "create",
            "clusterrolebinding",
            "alice-pc-reader",
            "--clusterrole=pc-reader",
            "--user=alice",
        ],
        None,
    );
    let out = cluster.kubectl_with(&alice, &["get", "priorityclasses", "-o", "name"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("system-cluster-critical"));
}

#[test]
fn cluster_schedules_pod_on_fake_node() {
    pg_testenv::require_cluster!();
    let cluster = start(Options {
        scheduler: true,
        controller_manager: true,
        ..Options::default()
    });
    cluster.create_fake_node("fake-node-1", "4", "8Gi", "110");
    let ready = cluster.kubectl_ok(
        &[
            "get",
            "node",
            "fake-node-1",
            "-o",
            "jsonpath={.status.allocatable.cpu} {.status.conditions[?(@.type==\"Ready\")].status} {.spec.taints}",
        ],
        None,
    );
    assert_eq!(ready.trim(), "4 True");
    cluster.kubectl_ok(
        &["apply", "-f", "-"],
        Some(&pod_yaml("default", "web", "system-cluster-critical")),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let node = cluster.kubectl_ok(
            &["get", "pod", "web", "-o", "jsonpath={.spec.nodeName}"],
            None,
        );
        if node.trim() == "fake-node-1" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pod not scheduled within 60s: {}",
            cluster.kubectl_ok(&["describe", "pod", "web"], None)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn cluster_stop_apiserver_makes_kubectl_fail() {
    pg_testenv::require_cluster!();
    let mut cluster = start(Options::default());
    assert!(cluster.kubectl(&["get", "namespaces"]).status.success());
    cluster.stop_apiserver();
    let out = cluster.kubectl(&["get", "namespaces"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused"), "{stderr}");
    // The port stays taken (bound, not listening): no other server can answer on it.
    let url = cluster.server_url();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_err(),
        "{url} is free again"
    );
}

#[test]
fn cluster_serves_mutating_admission_policy_api() {
    pg_testenv::require_cluster!();
    // GA (admissionregistration.k8s.io/v1) in 1.36 and on by default; the
    // beta version is off by default and can be switched on with extra args.
    let cluster = start(Options {
        extra_apiserver_args: vec![
            "--feature-gates=MutatingAdmissionPolicy=true".to_string(),
            "--runtime-config=admissionregistration.k8s.io/v1beta1=true".to_string(),
        ],
        ..Options::default()
    });
    let versions = cluster.kubectl_ok(&["api-versions"], None);
    for v in [
        "admissionregistration.k8s.io/v1",
        "admissionregistration.k8s.io/v1beta1",
    ] {
        assert!(
            versions.lines().any(|l| l == v),
            "{v} not served: {versions}"
        );
    }
    let resources = cluster.kubectl_ok(
        &[
            "api-resources",
            "--api-group=admissionregistration.k8s.io",
            "-o",
            "name",
        ],
        None,
    );
    assert!(
        resources.contains("mutatingadmissionpolicies.admissionregistration.k8s.io"),
        "{resources}"
    );
}

#[test]
fn cluster_failed_kubectl_call_keeps_the_evidence() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cluster.kubectl_ok(&["get", "no-such-kind"], None)
    }));
    let message = *failed
        .expect_err("kubectl_ok panics on a failed call")
        .downcast::<String>()
        .unwrap();
    // Every component's state and log tail, and where the files are kept.
    for needle in [
        "etcd: running (pid ",
        "kube-apiserver: running (pid ",
        "kube-apiserver.log",
        "kept after the test",
    ] {
        assert!(message.contains(needle), "{needle:?} not in:\n{message}");
    }
    let dir = cluster.work_dir().to_path_buf();
    drop(cluster);
    assert!(dir.join("kube-apiserver.log").is_file(), "kept");
    std::fs::remove_dir_all(dir).unwrap();
}
