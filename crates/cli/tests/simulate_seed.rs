//! The seed's story end to end (README, "Simulating the seed's outage"): node-a full of
//! ordinary pods and an upstream Multus pod with no priorityClassName. Under memory pressure
//! the kubelet evicts Multus 5th of 10, before every pod of the shop's own classes; its
//! containers have oom_score_adj 994. After `fix` (system-node-critical) it is immune to
//! eviction and at -997.
//!
//! `snapshot.json` is what `kubectl get nodes,pods,priorityclasses,poddisruptionbudgets -A -o
//! json` printed for `cluster.yaml` on a real kube-apiserver; `cluster_simulate_seed_story`
//! rebuilds that cluster and checks that `simulate --cluster` agrees with the file. With
//! `PRIORITYGUARD_REGENERATE_SEED=1` it rewrites the file and fails, so the new file is reviewed
//! and checked by a second, ordinary run.

mod common;
use common::*;
use pg_testenv::{Options, TestCluster};
use serde_json::Value;

const DIR: &str = "crates/simulate/tests/data/seed-outage";
const MULTUS: &str = "kube-system/kube-multus-ds-7xk2p";

fn data(file: &str) -> String {
    format!("{DIR}/{file}")
}

fn simulate_json(args: &[&str]) -> Value {
    let out = priorityguard(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

fn position(order: &Value, pod: &str) -> Option<(u64, u64)> {
    order["order"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pod"] == pod)
        .map(|r| (r["rank"].as_u64().unwrap(), r["tied"].as_u64().unwrap()))
}

fn immune(order: &Value, pod: &str) -> bool {
    order["immune"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["pod"] == pod)
}

fn oom(table: &Value, pod: &str, container: &str) -> i64 {
    table["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["pod"] == pod && c["container"] == container)
        .unwrap_or_else(|| panic!("{pod}/{container} in {table}"))["oom_score_adj"]
        .as_i64()
        .unwrap()
}

/// The story's facts, whatever the input was.
fn assert_story(sim: &Value) {
    let eviction = &sim["eviction"];
    let before = &eviction["before"];
    assert_eq!(before["order"].as_array().unwrap().len(), 10);
    assert_eq!(position(before, MULTUS), Some((5, 1)), "{before}");
    // Every pod of the shop's own classes goes after Multus unless it exceeds its request.
    for pod in ["shop/web-5f7b9c4d8-abc12", "shop/search-0", "shop/cart-0"] {
        assert!(position(before, pod).unwrap().0 > 5, "{pod}");
    }
    assert!(immune(before, "kube-system/kube-proxy-8xk2p"));
    assert!(immune(before, "kube-system/coredns-5d78c9869d-4cvpk"));
    let after = &eviction["after"];
    assert!(immune(after, MULTUS), "{after}");
    assert_eq!(after["order"].as_array().unwrap().len(), 9);
    assert_eq!(oom(&sim["oom"]["before"], MULTUS, "kube-multus"), 994);
    assert_eq!(oom(&sim["oom"]["after"], MULTUS, "kube-multus"), -997);
    // system-cluster-critical gives no OOM protection: CoreDNS stays Burstable-high.
    let coredns = "kube-system/coredns-5d78c9869d-4cvpk";
    assert_eq!(oom(&sim["oom"]["after"], coredns, "coredns"), 992);
    assert_eq!(
        oom(
            &sim["oom"]["before"],
            "kube-system/kube-proxy-8xk2p",
            "kube-proxy"
        ),
        -997
    );
    let fixes = sim["fixes"].as_array().unwrap();
    assert_eq!(fixes.len(), 1, "{fixes:?}");
    assert_eq!(fixes[0]["pod"], MULTUS);
    assert_eq!(fixes[0]["to_class"], "system-node-critical");
}

const STORY_ARGS: [&str; 6] = [
    "--node",
    "node-a",
    "--usage",
    "crates/simulate/tests/data/seed-outage/usage.yaml",
    "--with-fixes",
    "-o",
];

#[test]
fn simulate_seed_story_from_the_snapshot() {
    let snapshot = data("snapshot.json");
    let mut args = vec!["simulate", "--snapshot", &snapshot];
    args.extend(STORY_ARGS);
    args.push("json");
    assert_story(&simulate_json(&args));
}

#[test]
fn simulate_seed_story_table_and_chart() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("order.svg");
    let snapshot = data("snapshot.json");
    let chart_arg = chart.display().to_string();
    let mut args = vec!["simulate", "--snapshot", &snapshot];
    args.extend(STORY_ARGS);
    args.extend(["table", "--chart", &chart_arg]);
    let out = priorityguard(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains(
            "▶ kube-system/kube-multus-ds-7xk2p (Multus CNI): evicted 5th of 10 -> immune"
        ),
        "{table}"
    );
    assert!(
        table.contains("no class -> system-node-critical"),
        "{table}"
    );
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("kube-multus-ds-7xk2p") && svg.contains("after recommended classes"));
}

#[test]
fn simulate_without_a_node_lists_critical_pods_exposure() {
    let snapshot = data("snapshot.json");
    let usage = data("usage.yaml");
    let out = priorityguard(&["simulate", "--snapshot", &snapshot, "--usage", &usage]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains(
            "evicted 5th of 10 under memory pressure on node-a; immune after fix; oom_score_adj 994 -> -997"
        ),
        "{table}"
    );
}

#[test]
fn audit_adds_the_risk_line_when_the_input_has_nodes() {
    let snapshot = data("snapshot.json");
    let out = priorityguard(&["audit", &snapshot, "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    let multus = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "critical-without-priority")
        .expect("the Multus finding");
    assert_eq!(multus["object"]["name"], "kube-multus-ds");
    // No usage in the snapshot: requests stand in, and five priority-0 pods tie.
    assert_eq!(
        multus["risk"],
        "evicted 1st-5th of 10 under memory pressure on node-a (usage not measured); immune after fix; oom_score_adj 994 -> -997"
    );
    // A manifest without nodes gets no risk line.
    let out = priorityguard(&["audit", "examples/multus-daemonset.yml", "-o", "json"]);
    assert!(json(&out)["findings"][0].get("risk").is_none());
}

#[test]
fn simulate_preemption_of_a_pending_pod() {
    let snapshot = data("snapshot.json");
    let pending = data("pending-reindex.yaml");
    let sim = simulate_json(&[
        "simulate",
        "--snapshot",
        &snapshot,
        "--pending",
        &pending,
        "--with-fixes",
        "-o",
        "json",
    ]);
    let before = &sim["preemption"]["before"];
    assert_eq!(before["result"]["outcome"], "preempts", "{before}");
    assert_eq!(before["result"]["node"], "node-a");
    let victims: Vec<&str> = before["result"]["victims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["pod"].as_str().unwrap())
        .collect();
    assert_eq!(victims, ["shop/batch-import-28k4q"]);
    assert_eq!(
        sim["preemption"]["after"]["result"]["victims"],
        before["result"]["victims"]
    );
}

fn start_times(cluster: &TestCluster) {
    let times: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join(data("start-times.json"))).unwrap(),
    )
    .unwrap();
    let mut list = cluster.kubectl_json(&["get", "pods", "-A", "-o", "json"]);
    for item in list["items"].as_array_mut().unwrap() {
        let key = format!(
            "{}/{}",
            item["metadata"]["namespace"].as_str().unwrap(),
            item["metadata"]["name"].as_str().unwrap()
        );
        item["status"]["startTime"] = times[&key].clone();
        item["status"]["phase"] = Value::String("Running".into());
    }
    cluster.kubectl_ok(
        &["replace", "--subresource=status", "-f", "-"],
        Some(&list.to_string()),
    );
}

#[test]
fn cluster_simulate_seed_story() {
    pg_testenv::require_cluster!();
    let cluster = TestCluster::start(Options::default()).unwrap();
    cluster.create_fake_node("node-a", "4", "8Gi", "110");
    cluster.kubectl_ok(
        &[
            "create",
            "-f",
            &repo_root().join(data("cluster.yaml")).display().to_string(),
        ],
        None,
    );
    start_times(&cluster);
    // Regenerating the checked-in snapshot is a separate, failing run: a passing run never
    // compares the cluster with a file it has just written from that cluster.
    if std::env::var("PRIORITYGUARD_REGENERATE_SEED").is_ok_and(|v| v == "1") {
        let dump = cluster.kubectl_ok(
            &[
                "get",
                "nodes,pods,priorityclasses,poddisruptionbudgets",
                "-A",
                "-o",
                "json",
            ],
            None,
        );
        let path = repo_root().join(data("snapshot.json"));
        std::fs::write(&path, dump).unwrap();
        panic!(
            "wrote {}: review the diff, then run again without PRIORITYGUARD_REGENERATE_SEED",
            path.display()
        );
    }
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let mut args = vec!["simulate", "--cluster", "--kubeconfig", &kubeconfig];
    args.extend(STORY_ARGS);
    args.push("json");
    let live = simulate_json(&args);
    assert_story(&live);
    // The checked-in snapshot says the same as the cluster it was taken from.
    let snapshot = data("snapshot.json");
    let mut args = vec!["simulate", "--snapshot", &snapshot];
    args.extend(STORY_ARGS);
    args.push("json");
    let from_file = simulate_json(&args);
    for view in ["eviction", "oom", "fixes", "critical_pods"] {
        assert_eq!(live[view], from_file[view], "{view}");
    }
}
