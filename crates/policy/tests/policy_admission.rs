//! The generated ValidatingAdmissionPolicy and MutatingAdmissionPolicy on a real
//! kube-apiserver (pg-testenv): the upstream Multus DaemonSet is rejected, warned about or
//! given `system-node-critical`; ordinary workloads and explicit classes are left alone.

mod common;

use common::*;
use pg_policy::{Engine, Mode};
use pg_testenv::{Options, TestCluster};
use serde_json::{Value, json};
use std::process::Output;
use std::time::{Duration, Instant};

/// How long a new policy binding may take to reach the admission chain.
const ACTIVATION_TIMEOUT: Duration = Duration::from_secs(60);

fn start() -> TestCluster {
    let cluster = TestCluster::start(Options::default()).expect("cluster starts");
    cluster.kubectl_ok(&["create", "namespace", "apps"], None);
    cluster
}

/// The annotation ValidatingAdmissionPolicy's `Audit` action writes into the audit event.
const AUDIT_ANNOTATION: &str = "validation.policy.admission.k8s.io/validation_failure";

/// [`start`] with the API server's audit log on (Metadata level, DaemonSets only): the log is
/// where the `Audit` validation action records a violation. The log is in the returned dir.
fn start_with_audit_log() -> (TestCluster, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("audit-policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n\
         - level: Metadata\n  resources:\n  - group: apps\n    resources: [daemonsets]\n",
    )
    .unwrap();
    let cluster = TestCluster::start(Options {
        extra_apiserver_args: vec![
            format!("--audit-policy-file={}", policy.display()),
            format!(
                "--audit-log-path={}",
                dir.path().join("audit.log").display()
            ),
        ],
        ..Options::default()
    })
    .expect("cluster starts");
    cluster.kubectl_ok(&["create", "namespace", "apps"], None);
    (cluster, dir)
}

/// The validation failures the `Audit` action recorded for creates of DaemonSet `name`
/// (dry runs when `dry_run`), as the annotation's JSON text.
fn audited_failures(log_dir: &std::path::Path, name: &str, dry_run: bool) -> Vec<String> {
    let log = std::fs::read_to_string(log_dir.join("audit.log")).unwrap_or_default();
    log.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("an audit event per line"))
        .filter(|e| {
            e["verb"] == "create"
                && e["stage"] == "ResponseComplete"
                && e["objectRef"]["name"] == name
                && e["requestURI"]
                    .as_str()
                    .is_some_and(|u| u.contains("dryRun") == dry_run)
        })
        .filter_map(|e| {
            e["annotations"][AUDIT_ANNOTATION]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// The upstream Multus DaemonSet, exactly as multus-cni ships it.
fn multus() -> Value {
    document_of_kind(&data("multus-daemonset.yml"), "DaemonSet")
}

fn with_class(mut object: Value, class: &str) -> Value {
    let spec = match object["kind"].as_str() {
        Some("Pod") => &mut object["spec"],
        Some("CronJob") => &mut object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => &mut object["spec"]["template"]["spec"],
    };
    spec["priorityClassName"] = json!(class);
    object
}

fn deployment(ns: &str, name: &str, labels: Value, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels.clone()},
        "spec": {
            "selector": {"matchLabels": labels.clone()},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image}]}
            }
        }
    })
}

fn coredns() -> Value {
    deployment(
        "kube-system",
        "coredns",
        json!({"k8s-app": "kube-dns"}),
        "registry.k8s.io/coredns/coredns:v1.12.0",
    )
}

fn ordinary() -> Value {
    deployment(
        "apps",
        "web",
        json!({"app": "web"}),
        "registry.invalid/nginx:1.27",
    )
}

fn bare_kube_proxy_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-proxy-debug", "namespace": "kube-system"},
        "spec": {"containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.36.3"}]}
    })
}

fn kubectl(cluster: &TestCluster, args: &[&str], object: &Value) -> Output {
    cluster.kubectl_with(
        cluster.kubeconfig_path(),
        args,
        Some(&serde_json::to_string(object).unwrap()),
    )
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn apply_policy(cluster: &TestCluster, engine: Engine, mode: Option<Mode>) {
    cluster.kubectl_ok(&["apply", "-f", "-"], Some(&generate(engine, mode)));
}

/// Polls a server-side dry-run create of `probe` until `active` says the policy acts on it.
fn wait_until(cluster: &TestCluster, probe: &Value, active: impl Fn(&Output) -> bool) {
    let start = Instant::now();
    loop {
        let out = kubectl(
            cluster,
            &["create", "--dry-run=server", "-o", "json", "-f", "-"],
            probe,
        );
        if active(&out) {
            return;
        }
        assert!(
            start.elapsed() < ACTIVATION_TIMEOUT,
            "policy not active after {ACTIVATION_TIMEOUT:?}; last answer: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn create(cluster: &TestCluster, object: &Value) -> Output {
    kubectl(cluster, &["create", "-o", "json", "-f", "-"], object)
}

fn assert_created(out: &Output) -> Value {
    assert!(out.status.success(), "rejected: {}", text(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_rejected(out: &Output, needles: &[&str]) {
    assert!(!out.status.success(), "admitted: {}", text(out));
    let text = text(out);
    for n in needles {
        assert!(text.contains(n), "{n:?} not in: {text}");
    }
}

fn class_of(object: &Value) -> &Value {
    match object["kind"].as_str() {
        Some("Pod") => &object["spec"]["priorityClassName"],
        _ => &object["spec"]["template"]["spec"]["priorityClassName"],
    }
}

#[test]
fn policy_vap_enforce_rejects_critical_workloads_without_the_right_class() {
    pg_testenv::require_cluster!();
    let cluster = start();
    // Created before the policy: later metadata-only updates must still go through.
    let legacy = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-proxy"}},
                "spec": {"containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.36.3"}]}
            }
        }
    });
    assert_created(&create(&cluster, &legacy));

    apply_policy(&cluster, Engine::Vap, Some(Mode::Enforce));
    wait_until(&cluster, &multus(), |out| !out.status.success());

    // The upstream Multus DaemonSet (multus-cni #1531) is rejected, saying what to use.
    assert_rejected(
        &create(&cluster, &multus()),
        &[
            "priorityguard-critical-class",
            "DaemonSet kube-system/kube-multus-ds is Multus CNI (node-agent)",
            "set priorityClassName: system-node-critical",
        ],
    );
    // Kubespray's fix (#11434) is admitted.
    assert_created(&create(
        &cluster,
        &with_class(multus(), "system-node-critical"),
    ));
    // A node agent on the cluster class is too weak.
    let mut weak = with_class(multus(), "system-cluster-critical");
    weak["metadata"]["name"] = json!("kube-multus-ds-2");
    assert_rejected(
        &create(&cluster, &weak),
        &[
            "uses priorityClassName system-cluster-critical",
            "set priorityClassName: system-node-critical",
        ],
    );
    // A cluster service may use either system class.
    assert_rejected(
        &create(&cluster, &coredns()),
        &["CoreDNS (cluster-service)"],
    );
    assert_created(&create(
        &cluster,
        &with_class(coredns(), "system-cluster-critical"),
    ));
    // Ordinary workloads are never judged.
    assert_created(&create(&cluster, &ordinary()));
    // Bare Pods are judged on their own...
    assert_rejected(
        &create(&cluster, &bare_kube_proxy_pod()),
        &["Pod kube-system/kube-proxy-debug is kube-proxy (node-agent)"],
    );
    // ...pods a controller creates are judged through the controller.
    let mut owned = bare_kube_proxy_pod();
    owned["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kube-proxy",
        "uid": "0b8e6f0e-1111-4222-8333-444455556666", "controller": true
    }]);
    assert_created(&create(&cluster, &owned));

    // The legacy DaemonSet: a label change passes, a spec change needs the class.
    cluster.kubectl_ok(
        &[
            "label",
            "-n",
            "kube-system",
            "daemonset/kube-proxy",
            "team=network",
        ],
        None,
    );
    let out = cluster.kubectl(&[
        "set",
        "image",
        "-n",
        "kube-system",
        "daemonset/kube-proxy",
        "kube-proxy=registry.k8s.io/kube-proxy:v1.36.4",
    ]);
    assert_rejected(&out, &["kube-proxy (node-agent)"]);
    // Removing the class from a fixed workload is an update that fails.
    let out = cluster.kubectl(&[
        "patch",
        "-n",
        "kube-system",
        "daemonset/kube-multus-ds",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/spec/template/spec/priorityClassName"}]"#,
    ]);
    assert_rejected(&out, &["has no priorityClassName"]);
}

#[test]
fn policy_vap_warn_and_audit_admit() {
    pg_testenv::require_cluster!();
    let (cluster, log_dir) = start_with_audit_log();
    apply_policy(&cluster, Engine::Vap, Some(Mode::Warn));
    wait_until(&cluster, &multus(), |out| {
        String::from_utf8_lossy(&out.stderr).contains("Warning:")
    });
    let out = create(&cluster, &multus());
    assert_created(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Warning:")
            && stderr.contains("Multus CNI (node-agent) and has no priorityClassName"),
        "{stderr}"
    );
    let out = create(&cluster, &ordinary());
    assert_created(&out);
    assert!(!text(&out).contains("Warning:"), "{}", text(&out));

    // Audit: admitted without a word to the client, and the violation is in the audit log
    // (an unbound or inactive policy would admit silently too, but log nothing).
    apply_policy(&cluster, Engine::Vap, Some(Mode::Audit));
    let mut second = multus();
    second["metadata"]["name"] = json!("kube-multus-ds-2");
    wait_until(&cluster, &second, |out| {
        out.status.success()
            && !String::from_utf8_lossy(&out.stderr).contains("Warning:")
            && !audited_failures(log_dir.path(), "kube-multus-ds-2", true).is_empty()
    });
    let out = create(&cluster, &second);
    assert_created(&out);
    assert!(!text(&out).contains("Warning:"), "{}", text(&out));
    let audited = audited_failures(log_dir.path(), "kube-multus-ds-2", false);
    let [failure] = audited.as_slice() else {
        panic!("one audited violation for the create: {audited:?}")
    };
    assert!(
        failure.contains("Multus CNI (node-agent) and has no priorityClassName")
            && failure.contains("\"Audit\""),
        "{failure}"
    );
}

#[test]
fn policy_map_sets_the_class_and_never_overwrites_one() {
    pg_testenv::require_cluster!();
    let cluster = start();
    cluster.kubectl_ok(
        &["create", "priorityclass", "infra-high", "--value=900000000"],
        None,
    );
    apply_policy(&cluster, Engine::Map, None);
    let mut probe = multus();
    probe["metadata"]["name"] = json!("probe");
    wait_until(&cluster, &probe, |out| {
        out.status.success()
            && serde_json::from_slice::<Value>(&out.stdout)
                .is_ok_and(|v| class_of(&v) == "system-node-critical")
    });

    // Admitted and stored with the class Kubespray's fix added by hand.
    assert_created(&create(&cluster, &multus()));
    let stored = cluster.kubectl_json(&[
        "get",
        "daemonset",
        "-n",
        "kube-system",
        "kube-multus-ds",
        "-o",
        "json",
    ]);
    assert_eq!(class_of(&stored), "system-node-critical");

    // Ordinary workloads are untouched.
    let web = assert_created(&create(&cluster, &ordinary()));
    assert_eq!(class_of(&web), &Value::Null);
    // An explicit class is never overwritten: neither the usual one on CoreDNS...
    let dns = assert_created(&create(
        &cluster,
        &with_class(coredns(), "system-cluster-critical"),
    ));
    assert_eq!(class_of(&dns), "system-cluster-critical");
    // ...nor a (weaker) user class on a node agent: reporting that is the VAP's job.
    let mut user = with_class(multus(), "infra-high");
    user["metadata"]["name"] = json!("kube-multus-ds-user");
    let user = assert_created(&create(&cluster, &user));
    assert_eq!(class_of(&user), "infra-high");
    // CronJobs get it in their job template.
    let cron = json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "metrics-server-probe", "namespace": "kube-system"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "probe", "image": "registry.k8s.io/metrics-server/metrics-server:v0.7.2"}]
        }}}}}
    });
    let cron = assert_created(&create(&cluster, &cron));
    assert_eq!(
        cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["priorityClassName"],
        "system-cluster-critical"
    );
    // A bare Pod gets the class and the priority the Priority plugin would have given it.
    let pod = assert_created(&create(&cluster, &bare_kube_proxy_pod()));
    assert_eq!(pod["spec"]["priorityClassName"], "system-node-critical");
    assert_eq!(pod["spec"]["priority"], 2000001000);
    assert_eq!(pod["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    // An update that drops the class gets it back, so the fix stays in place.
    cluster.kubectl_ok(
        &[
            "patch",
            "-n",
            "kube-system",
            "daemonset/kube-multus-ds",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/spec/template/spec/priorityClassName"}]"#,
        ],
        None,
    );
    let stored = cluster.kubectl_json(&[
        "get",
        "daemonset",
        "-n",
        "kube-system",
        "kube-multus-ds",
        "-o",
        "json",
    ]);
    assert_eq!(class_of(&stored), "system-node-critical");
    // Nothing changed, so nothing was written: the mutation is idempotent.
    assert_eq!(stored["metadata"]["generation"], 1);
}

#[test]
fn policy_map_and_vap_together_admit_multus_with_its_class() {
    pg_testenv::require_cluster!();
    let cluster = start();
    apply_policy(&cluster, Engine::Map, None);
    apply_policy(&cluster, Engine::Vap, Some(Mode::Enforce));
    // Both active: a weak class is rejected (the MAP leaves it, the VAP judges it)...
    let mut weak = with_class(multus(), "system-cluster-critical");
    weak["metadata"]["name"] = json!("probe");
    wait_until(&cluster, &weak, |out| !out.status.success());
    // ...and a missing one is filled in before validation, so Multus is admitted as is.
    wait_until(&cluster, &multus(), |out| out.status.success());
    let ds = assert_created(&create(&cluster, &multus()));
    assert_eq!(class_of(&ds), "system-node-critical");
}

#[test]
fn policy_vap_and_map_follow_the_policy_file() {
    pg_testenv::require_cluster!();
    let cluster = start();
    for (class, value) in [("infra-high", "900000000"), ("infra-low", "1000")] {
        cluster.kubectl_ok(
            &[
                "create",
                "priorityclass",
                class,
                &format!("--value={value}"),
            ],
            None,
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "components:\n- id: acme-agent\n  name: ACME node agent\n  role: node-agent\n  class: infra-high\n  images: [acme/node-agent]\n",
    )
    .unwrap();
    for engine in [Engine::Map, Engine::Vap] {
        cluster.kubectl_ok(
            &["apply", "-f", "-"],
            Some(&generate_with(engine, None, Some(&policy))),
        );
    }
    let agent = |name: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "apps"},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "agent", "image": "registry.example.com/acme/node-agent:2.1"}]}
                }
            }
        })
    };
    wait_until(&cluster, &with_class(agent("probe"), "infra-low"), |out| {
        !out.status.success()
    });
    wait_until(&cluster, &agent("probe"), |out| {
        serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|v| class_of(&v) == "infra-high")
    });

    // The MAP sets the policy file's class; the VAP accepts it and anything higher.
    let created = assert_created(&create(&cluster, &agent("acme")));
    assert_eq!(class_of(&created), "infra-high");
    assert_created(&create(
        &cluster,
        &with_class(agent("acme-node"), "system-node-critical"),
    ));
    assert_rejected(
        &create(&cluster, &with_class(agent("acme-low"), "infra-low")),
        &[
            "is ACME node agent (node-agent) but uses priorityClassName infra-low",
            "set priorityClassName: infra-high",
        ],
    );
    // A bare Pod: the user class's value is unknown to the MAP, so it is left to the VAP.
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "acme-debug", "namespace": "apps"},
        "spec": {"containers": [{"name": "agent", "image": "registry.example.com/acme/node-agent:2.1"}]}
    });
    assert_rejected(
        &create(&cluster, &pod),
        &["Pod apps/acme-debug is ACME node agent (node-agent) and has no priorityClassName"],
    );
}
