//! Many clusters in one run, against three real kube-apiservers (pg-testenv) with different
//! contents and one context whose server is down: `audit --cluster --all-contexts` reads every
//! context of a `KUBECONFIG` list as kubectl merges it, reports each finding with its cluster
//! and a summary per cluster, isolates the failure (one stderr line naming the context, the
//! others still reported, exit 2 after the report), and `classes` and `fix --cluster` take the
//! same options. The second cluster carries a CNI-like admission webhook, which the webhook
//! signal recognises live (issue 13).

mod common;
use common::*;
use pg_testenv::{Options, TestCluster};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One context per test cluster, each in its own kubeconfig file (cluster, user and context
/// renamed to `name`, as separate clusters' kubeconfigs are), merged through `KUBECONFIG`.
fn kubeconfig_as(cluster: &TestCluster, name: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(cluster.kubeconfig_path()).unwrap();
    let mut config: Value = serde_json::from_str(&text).unwrap();
    config["clusters"][0]["name"] = name.into();
    config["users"][0]["name"] = name.into();
    config["contexts"][0]["name"] = name.into();
    config["contexts"][0]["context"]["cluster"] = name.into();
    config["contexts"][0]["context"]["user"] = name.into();
    config["current-context"] = name.into();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    path
}

/// A context whose API server does not answer: the first cluster's credentials, a port where
/// nothing listens.
fn down_kubeconfig(first: &Path, dir: &Path) -> PathBuf {
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(first).unwrap()).unwrap();
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1".into();
    for (key, i) in [("clusters", 0), ("users", 0), ("contexts", 0)] {
        config[key][i]["name"] = "down".into();
    }
    config["contexts"][0]["context"]["cluster"] = "down".into();
    config["contexts"][0]["context"]["user"] = "down".into();
    config["current-context"] = "down".into();
    let path = dir.join("down.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    path
}

fn run(kubeconfig: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_priorityguard"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("NO_COLOR", "1")
        .current_dir(repo_root())
        .output()
        .expect("binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn findings_of<'a>(report: &'a Value, context: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cluster"]["context"] == context)
        .collect()
}

fn pod(ns: &str, name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  containers:\n  - name: main\n    image: registry.invalid/pause:3.10\n"
    )
}

#[test]
fn cluster_fleet_of_three_servers_and_one_down() {
    pg_testenv::require_cluster!();
    let start = || TestCluster::start(Options::default()).expect("test cluster starts");
    let (alpha, beta, gamma) = (start(), start(), start());

    // alpha: upstream Multus without a class, and a bare pod without one.
    alpha.kubectl_ok(
        &["apply", "-f", &upstream("multus-cni/multus-daemonset.yml")],
        None,
    );
    alpha.kubectl_ok(&["apply", "-f", "-"], Some(&pod("default", "alpha-pod")));
    // beta: a CNI's fail-closed pod webhook and the Deployment behind it (nothing in the
    // catalog), and a bare pod created before the webhook.
    beta.kubectl_ok(&["apply", "-f", "-"], Some(&pod("default", "beta-pod")));
    let webhook = repo_root().join("crates/cluster/tests/data/cni-webhook.yaml");
    beta.kubectl_ok(&["apply", "-f", webhook.to_str().unwrap()], None);
    // gamma: CoreDNS with the class it needs; nothing to report at the default level.
    gamma.kubectl_ok(
        &[
            "create",
            "deployment",
            "coredns",
            "-n",
            "kube-system",
            "--image=registry.k8s.io/coredns/coredns:v1.12.0",
        ],
        None,
    );
    gamma.kubectl_ok(
        &[
            "patch",
            "deployment",
            "coredns",
            "-n",
            "kube-system",
            "-p",
            r#"{"spec":{"template":{"spec":{"priorityClassName":"system-cluster-critical"}}}}"#,
        ],
        None,
    );

    let dir = tempfile::tempdir().unwrap();
    let a = kubeconfig_as(&alpha, "alpha", dir.path());
    let b = kubeconfig_as(&beta, "beta", dir.path());
    let g = kubeconfig_as(&gamma, "gamma", dir.path());
    let down = down_kubeconfig(&a, dir.path());
    let missing = dir.path().join("missing.json");
    // kubectl's merge: every file in order, missing ones skipped, the first current-context.
    let kubeconfig = std::env::join_paths([&a, &b, &missing, &g, &down])
        .unwrap()
        .into_string()
        .unwrap();

    // The merged JSON report.
    let out = run(
        &kubeconfig,
        &[
            "audit",
            "--cluster",
            "--all-contexts",
            "--jobs",
            "2",
            "-o",
            "json",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a cluster failed: {stderr}");
    let report = json(&out);
    let clusters = report["clusters"].as_array().expect("per-cluster summary");
    let names: Vec<&str> = clusters
        .iter()
        .map(|c| c["context"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta", "gamma", "down"]);
    for (c, server) in clusters.iter().zip([
        alpha.server_url(),
        beta.server_url(),
        gamma.server_url(),
        "https://127.0.0.1:1".to_string(),
    ]) {
        assert_eq!(c["server"], server.as_str());
    }
    assert!(clusters[..3].iter().all(|c| c.get("failure").is_none()));
    let failure = clusters[3]["failure"].as_str().expect("down failed");
    assert!(failure.contains("cannot reach the API server"), "{failure}");
    // One stderr line names the failed context; the others are not errors.
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(
        error_lines[0].starts_with("error: context \"down\": "),
        "{stderr}"
    );
    assert_eq!(report["summary"]["input_errors"], 1);
    // No progress bar when stderr is not a terminal.
    assert!(!stderr.contains("reading clusters"), "{stderr}");

    // alpha: Multus, in alpha only, with alpha's server on the finding.
    let multus: Vec<&Value> = findings_of(&report, "alpha")
        .into_iter()
        .filter(|f| {
            f["check"] == "critical-without-priority" && f["object"]["name"] == "kube-multus-ds"
        })
        .collect();
    assert_eq!(multus.len(), 1, "{report:#}");
    assert_eq!(multus[0]["cluster"]["server"], alpha.server_url().as_str());
    // beta: the webhook's Deployment, recognised live by the webhook signal, which names the
    // webhook, its configuration and the operation.
    let injector = findings_of(&report, "beta")
        .into_iter()
        .find(|f| f["object"]["name"] == "net-injector")
        .unwrap_or_else(|| panic!("net-injector not flagged: {report:#}"));
    assert_eq!(injector["check"], "critical-without-priority");
    assert_eq!(injector["severity"], "error");
    assert_eq!(injector["object"]["kind"], "Deployment");
    assert_eq!(injector["recommended_class"], "system-cluster-critical");
    let matched_by = injector["component"]["matched_by"].as_str().unwrap();
    for part in [
        "MutatingWebhookConfiguration net-injector",
        "net-injector.net.acme.invalid",
        "CREATE",
        "net-system/net-injector",
    ] {
        assert!(matched_by.contains(part), "{part} in {matched_by}");
    }
    // gamma: read, nothing wrong, CoreDNS protected.
    assert!(findings_of(&report, "gamma").is_empty(), "{report:#}");
    assert_eq!(clusters[2]["components"], 1);
    assert_eq!(clusters[2]["unprotected"], 0);
    assert!(clusters[0]["errors"].as_u64().unwrap() >= 1);
    assert!(clusters[1]["errors"].as_u64().unwrap() >= 1);
    // Every finding and component names its cluster.
    for key in ["findings", "components"] {
        for item in report[key].as_array().unwrap() {
            assert!(item["cluster"]["context"].is_string(), "{item:#}");
        }
    }

    // The table groups by cluster, in the order named, and ends with the clusters side by side.
    let out = run(
        &kubeconfig,
        &["audit", "--cluster", "--context", "gamma,alpha,down,beta"],
    );
    assert_eq!(out.status.code(), Some(2));
    let table = text(&out.stdout);
    let at = |needle: &str| {
        table
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not in:\n{table}"))
    };
    let headers = [
        at(&format!("cluster gamma ({})", gamma.server_url())),
        at(&format!("cluster alpha ({})", alpha.server_url())),
        at("cluster down (https://127.0.0.1:1)"),
        at(&format!("cluster beta ({})", beta.server_url())),
        at("\nClusters\n"),
    ];
    assert!(headers.windows(2).all(|w| w[0] < w[1]), "{table}");
    let multus_at = at("kube-system/DaemonSet/kube-multus-ds\n");
    assert!(headers[1] < multus_at && multus_at < headers[2], "{table}");
    let injector_at = at("net-system/Deployment/net-injector\n");
    assert!(
        headers[3] < injector_at && injector_at < headers[4],
        "{table}"
    );
    assert!(
        table.contains("down: not read: cannot reach the API server"),
        "{table}"
    );
    assert!(table.contains("in 4 clusters (1 not read)"), "{table}");

    // Without the server that is down: exit 1 for the findings, not 2.
    let out = run(
        &kubeconfig,
        &[
            "audit",
            "--cluster",
            "--context",
            "alpha,beta,gamma",
            "-o",
            "sarif",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let sarif = json(&out);
    assert_eq!(
        sarif["runs"][0]["properties"]["clusters"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // One context: the report as it always was, with no cluster fields.
    let out = run(
        &kubeconfig,
        &["audit", "--cluster", "--context", "beta", "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let single = json(&out);
    assert!(single.get("clusters").is_none());
    assert!(
        single["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.get("cluster").is_none())
    );

    // classes: every cluster's rows, with their cluster; the failure isolated the same way.
    let out = run(
        &kubeconfig,
        &["classes", "--cluster", "--all-contexts", "--json"],
    );
    assert_eq!(out.status.code(), Some(2));
    let rows = json(&out);
    let rows = rows.as_array().unwrap();
    for context in ["alpha", "beta", "gamma"] {
        let row = rows
            .iter()
            .find(|r| r["cluster"]["context"] == context && r["name"] == "system-cluster-critical")
            .unwrap_or_else(|| panic!("{context}: {rows:#?}"));
        assert_eq!(row["value"], 2000000000);
    }
    let gamma_row = rows
        .iter()
        .find(|r| r["cluster"]["context"] == "gamma" && r["name"] == "system-cluster-critical")
        .unwrap();
    assert_eq!(gamma_row["workloads"], 1);
    assert!(text(&out.stderr).contains("error: context \"down\": "));

    // fix --cluster (print mode): each cluster's patches with their --context.
    let out = run(&kubeconfig, &["fix", "--cluster", "--all-contexts"]);
    assert_eq!(out.status.code(), Some(2));
    let plan = text(&out.stdout);
    assert!(
        plan.contains(
            r#""kind":"DaemonSet","metadata":{"name":"kube-multus-ds","namespace":"kube-system"}"#
        ) && plan.contains("--context alpha"),
        "{plan}"
    );
    assert!(
        plan.contains(
            r#""kind":"Deployment","metadata":{"name":"net-injector","namespace":"net-system"}"#
        ) && plan.contains("--context beta"),
        "{plan}"
    );
    assert!(
        plan.contains("# cluster down (https://127.0.0.1:1)\n# not read: "),
        "{plan}"
    );
    // ...but --apply stays one context at a time.
    let out = run(
        &kubeconfig,
        &[
            "fix",
            "--cluster",
            "--context",
            "alpha,beta",
            "--apply",
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("fix --apply patches one cluster at a time"),
        "{}",
        text(&out.stderr)
    );
}
