//! deploy/cronjob against a real kube-apiserver (pg-testenv): the manifests pass a server-side
//! dry run and apply; the CronJob's own command line, run with its service account's token,
//! prints the JSON report and puts one Warning Event on the Multus DaemonSet, which a second
//! run counts up instead of duplicating; the account can read and write Events, nothing more.

mod common;
use common::*;
use pg_testenv::{Options, TestCluster};
use std::path::{Path, PathBuf};
use std::process::Output;

const NAMESPACE: &str = "deploy/namespace.yaml";
const AUDIT_ROLE: &str = "docs/rbac/audit-clusterrole.yaml";
const CRONJOB_DIR: &str = "deploy/cronjob";
const SERVICE_ACCOUNT: &str = "system:serviceaccount:priorityguard:priorityguard-cronjob";

fn repo_path(rel: &str) -> String {
    repo_root().join(rel).display().to_string()
}

/// The container args of the CronJob as shipped: the test runs exactly what the cluster would.
fn cronjob_args() -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join(CRONJOB_DIR).join("cronjob.yaml")).unwrap();
    let cronjob: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    let container = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"],
        "priorityguard-cronjob"
    );
    container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// A kubeconfig that authenticates with a real token of the CronJob's service account, as the
/// pod would (TokenRequest, signed by the apiserver).
fn service_account_kubeconfig(cluster: &TestCluster) -> PathBuf {
    let token = cluster.kubectl_ok(
        &[
            "create",
            "token",
            "priorityguard-cronjob",
            "-n",
            "priorityguard",
        ],
        None,
    );
    let path = cluster.work_dir().join("cronjob-sa.kubeconfig");
    std::fs::copy(cluster.kubeconfig_path(), &path).unwrap();
    let kubeconfig = path.display().to_string();
    for args in [
        vec![
            "config",
            "set-credentials",
            "cronjob-sa",
            "--token",
            token.trim(),
        ],
        vec!["config", "set-context", "--current", "--user", "cronjob-sa"],
    ] {
        let out = cluster.kubectl_with(&path, &args, None);
        assert!(out.status.success(), "{kubeconfig}: {out:?}");
    }
    path
}

fn run_cronjob(kubeconfig: &Path) -> Output {
    let mut args = cronjob_args();
    args.extend(["--kubeconfig".to_string(), kubeconfig.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    priorityguard(&args)
}

fn our_events(cluster: &TestCluster) -> Vec<serde_json::Value> {
    let events = cluster.kubectl_json(&[
        "get",
        "events.events.k8s.io",
        "-n",
        "kube-system",
        "-o",
        "json",
    ]);
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reportingController"] == "priorityguard")
        .cloned()
        .collect()
}

#[test]
fn cluster_cronjob_manifests_report_and_record_events() {
    pg_testenv::require_cluster!();
    let cluster = TestCluster::start(Options::default()).unwrap();

    // The namespace first: a dry run of a namespace does not create it, and the rest lives in it.
    cluster.kubectl_ok(&["apply", "-f", &repo_path(NAMESPACE)], None);
    let files = [
        "-f",
        &repo_path(AUDIT_ROLE),
        "-f",
        &repo_path(NAMESPACE),
        "-f",
        &repo_path(CRONJOB_DIR),
    ];
    let dry_run = cluster.kubectl_ok(&[&["apply", "--dry-run=server"][..], &files].concat(), None);
    for object in [
        "cronjob.batch/priorityguard-audit created (server dry run)",
        "serviceaccount/priorityguard-cronjob created (server dry run)",
        "clusterrole.rbac.authorization.k8s.io/priorityguard-events created (server dry run)",
        "clusterrolebinding.rbac.authorization.k8s.io/priorityguard-cronjob-events created (server dry run)",
    ] {
        assert!(
            dry_run.contains(object),
            "{object} missing from:\n{dry_run}"
        );
    }
    // The namespace warns about pod templates below the restricted Pod Security Standard.
    let applied = cluster.kubectl(&[&["apply"][..], &files].concat());
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(applied.status.success(), "{stderr}");
    assert!(!stderr.contains("PodSecurity"), "{stderr}");

    // The service account reads and records Events; it cannot change workloads or read Secrets.
    for (verb, resource, allowed) in [
        ("list", "pods", "yes"),
        ("watch", "daemonsets.apps", "yes"),
        ("create", "events.events.k8s.io", "yes"),
        ("patch", "events.events.k8s.io", "yes"),
        ("patch", "daemonsets.apps", "no"),
        ("delete", "pods", "no"),
        ("get", "secrets", "no"),
    ] {
        let out = cluster.kubectl(&[
            "auth",
            "can-i",
            verb,
            resource,
            "-A",
            "--as",
            SERVICE_ACCOUNT,
        ]);
        let answer = String::from_utf8_lossy(&out.stdout);
        assert_eq!(answer.trim(), allowed, "{verb} {resource}");
    }

    cluster.kubectl_ok(
        &["apply", "-f", &upstream("multus-cni/multus-daemonset.yml")],
        None,
    );
    let kubeconfig = service_account_kubeconfig(&cluster);

    let first = run_cronjob(&kubeconfig);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(0), "--fail-on never: {stderr}");
    assert!(
        stderr.contains("Events recorded: 1 new, 0 repeated"),
        "{stderr}"
    );
    let report = json(&first);
    assert!(
        finding_keys(&report).contains(&(
            "critical-without-priority".to_string(),
            "error".to_string(),
            "kube-system/DaemonSet/kube-multus-ds".to_string()
        )),
        "{report}"
    );

    let events = our_events(&cluster);
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    let daemonset = cluster.kubectl_json(&[
        "get",
        "daemonset",
        "kube-multus-ds",
        "-n",
        "kube-system",
        "-o",
        "json",
    ]);
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "CriticalWithoutPriority");
    assert_eq!(event["action"], "Audit");
    assert_eq!(event["regarding"]["kind"], "DaemonSet");
    assert_eq!(event["regarding"]["apiVersion"], "apps/v1");
    assert_eq!(event["regarding"]["uid"], daemonset["metadata"]["uid"]);
    let note = event["note"].as_str().unwrap();
    assert!(
        note.contains("Multus") && note.contains("system-node-critical"),
        "{note}"
    );

    // Where operators look: `kubectl describe` finds Events by the object's uid.
    let described = cluster.kubectl_ok(
        &[
            "describe",
            "daemonset",
            "kube-multus-ds",
            "-n",
            "kube-system",
        ],
        None,
    );
    assert!(described.contains("CriticalWithoutPriority"), "{described}");

    // The next run counts the repeat on the same Event.
    let second = run_cronjob(&kubeconfig);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Events recorded: 0 new, 1 repeated"),
        "{stderr}"
    );
    let events = our_events(&cluster);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["series"]["count"], 2, "{:#?}", events[0]);
    assert_eq!(events[0]["metadata"]["name"], event["metadata"]["name"]);

    // Fixed: no new Event, and the old one is left to expire.
    cluster.set_template_class(
        "daemonset/kube-multus-ds",
        "kube-system",
        "system-node-critical",
    );
    let fixed = run_cronjob(&kubeconfig);
    let stderr = String::from_utf8_lossy(&fixed.stderr);
    assert!(
        stderr.contains("Events recorded: 0 new, 0 repeated"),
        "{stderr}"
    );
    assert_eq!(our_events(&cluster)[0]["series"]["count"], 2);
}

#[test]
fn cluster_events_without_the_events_role_fail_in_one_line() {
    pg_testenv::require_cluster!();
    let cluster = TestCluster::start(Options::default()).unwrap();
    cluster.kubectl_ok(&["apply", "-f", &repo_path(AUDIT_ROLE)], None);
    cluster.kubectl_ok(
        &["apply", "-f", &upstream("multus-cni/multus-daemonset.yml")],
        None,
    );
    let auditor = cluster.kubeconfig_for_user("carol", &["priorityguard-auditors"]);

    let out = priorityguard(&[
        "audit",
        "--cluster",
        "--events",
        "-o",
        "json",
        "--kubeconfig",
        &auditor.display().to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // The report is still complete; the Event failure is one line saying what to grant.
    assert!(
        finding_keys(&json(&out))
            .iter()
            .any(|(_, _, o)| o == "kube-system/DaemonSet/kube-multus-ds")
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: Event for kube-system/DaemonSet/kube-multus-ds"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains(r#"forbidden (403): User "carol" may not create events.events.k8s.io in namespace "kube-system""#)
            && line.contains("deploy/cronjob/rbac.yaml"),
        "{line}"
    );
    assert!(
        stderr.contains("Events recorded: 0 new, 0 repeated, 1 failed"),
        "{stderr}"
    );
}

/// clap waives `requires = "cluster"` when a PATH is given; the CLI checks it itself.
#[test]
fn cluster_only_options_refuse_files() {
    for args in [
        &["audit", "--events", "examples/multus-daemonset.yml"][..],
        &[
            "audit",
            "--context",
            "prod",
            "examples/multus-daemonset.yml",
        ],
        &[
            "classes",
            "-n",
            "kube-system",
            "examples/multus-daemonset.yml",
        ],
        &["fix", "--apply", "examples/multus-daemonset.yml"],
        &["simulate", "--kubeconfig", "k", "--snapshot", "s.json"],
    ] {
        let out = priorityguard(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("works only with --cluster"),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
