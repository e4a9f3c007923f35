//! `simulate`'s inputs: snapshots in JSON and YAML (several files, stdin), usage files in both
//! formats, pending pods that are manifests of any workload kind, and one-line errors with exit
//! code 2 for everything it cannot use.

mod common;
use common::*;

const SNAPSHOT: &str = "crates/simulate/tests/data/seed-outage/snapshot.json";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fails_with(args: &[&str], message: &str) {
    let out = priorityguard(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(message), "{args:?}: {err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn unusable_inputs_are_one_line_errors() {
    fails_with(
        &["simulate", "--snapshot", "no/such/file.json"],
        "error: cannot read no/such/file.json: No such file or directory",
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"kind\": \"List\", \"items\": [").unwrap();
    let bad = bad.display().to_string();
    fails_with(
        &["simulate", "--snapshot", &bad],
        &format!("{bad}: EOF while parsing"),
    );
    fails_with(
        &["simulate", "--snapshot", SNAPSHOT, "--node", "node-z"],
        "node node-z is not in the snapshot (nodes: node-a)",
    );
    let usage = dir.path().join("usage.yaml");
    std::fs::write(&usage, "shop/web: {memory: lots}\n").unwrap();
    let usage = usage.display().to_string();
    fails_with(
        &["simulate", "--snapshot", SNAPSHOT, "--usage", &usage],
        "shop/web: memory: quantities must match",
    );
    let pending = dir.path().join("pod.yaml");
    std::fs::write(
        &pending,
        "kind: Pod\nmetadata: {name: p}\nspec:\n  priorityClassName: gold\n  containers: [{name: c}]\n",
    )
    .unwrap();
    let pending = pending.display().to_string();
    fails_with(
        &["simulate", "--snapshot", SNAPSHOT, "--pending", &pending],
        "PriorityClass gold is not in the snapshot; the Priority admission plugin rejects such pods",
    );
    fails_with(
        &["simulate", "--snapshot", SNAPSHOT, "--chart", "x.svg"],
        "--node <NODE>",
    );
    fails_with(&["simulate"], "--snapshot <FILE>");
}

#[test]
fn yaml_snapshots_from_stdin_and_several_files() {
    // The same cluster as YAML documents on stdin, with the node in a second file.
    let node = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  capacity: {cpu: '2', memory: 4Gi, pods: '110'}\n  allocatable: {cpu: '2', memory: 4Gi, pods: '110'}\n";
    let pods = "apiVersion: v1\nkind: Pod\nmetadata: {name: multus-abc, namespace: kube-system}\nspec:\n  nodeName: n1\n  containers:\n  - name: kube-multus\n    image: k8snetworkplumbingwg/multus-cni:v4\n    resources: {requests: {memory: 50Mi}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: default}\nspec:\n  nodeName: n1\n  containers:\n  - name: app\n    image: app:1\n    resources: {requests: {memory: 1Gi}}\n";
    let dir = tempfile::tempdir().unwrap();
    let node_file = dir.path().join("node.yaml");
    std::fs::write(&node_file, node).unwrap();
    let node_file = node_file.display().to_string();
    let out = priorityguard_stdin(
        &[
            "simulate",
            "--snapshot",
            "-",
            "--snapshot",
            &node_file,
            "--node",
            "n1",
            "--with-fixes",
            "-o",
            "json",
        ],
        Some(pods.as_bytes()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let sim = json(&out);
    assert_eq!(sim["summary"]["nodes"], 1);
    assert_eq!(sim["summary"]["pods"], 2);
    let before = sim["eviction"]["before"]["order"].as_array().unwrap();
    // Both at priority 0 with usage = request: a tie, reported as such.
    assert_eq!(before.len(), 2);
    assert!(before.iter().all(|r| r["rank"] == 1 && r["tied"] == 2));
    assert!(
        before
            .iter()
            .all(|r| r["usage_source"] == "assumed-requests")
    );
    // 1000 - 1000*50Mi/4Gi = 988.
    let multus = sim["oom"]["before"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["container"] == "kube-multus")
        .unwrap();
    assert_eq!(multus["oom_score_adj"], 988);
    assert_eq!(sim["critical_pods"]["kube-system/multus-abc"], "Multus CNI");
}

#[test]
fn usage_from_a_kubelet_stats_summary_and_the_limits_assumption() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    // The kubelet's own numbers (working set), as /stats/summary serves them.
    std::fs::write(
        &summary,
        r#"{"node":{"nodeName":"node-a"},"pods":[
            {"podRef":{"name":"report-generator-0","namespace":"shop","uid":"u"},
             "memory":{"workingSetBytes":2147483648},"ephemeral-storage":{"usedBytes":1024}}]}"#,
    )
    .unwrap();
    let summary = summary.display().to_string();
    let out = priorityguard(&[
        "simulate",
        "--snapshot",
        SNAPSHOT,
        "--node",
        "node-a",
        "--usage",
        &summary,
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sim = json(&out);
    let order = sim["eviction"]["before"]["order"].as_array().unwrap();
    // 2Gi against a 1Gi request: the only pod over its request, so the first to go.
    assert_eq!(order[0]["pod"], "shop/report-generator-0");
    assert_eq!(order[0]["usage_source"], "measured");
    assert_eq!(sim["summary"]["pods_with_measured_usage"], 1);

    let out = priorityguard(&[
        "simulate",
        "--snapshot",
        SNAPSHOT,
        "--node",
        "node-a",
        "--assume",
        "limits",
        "-o",
        "json",
    ]);
    let sim = json(&out);
    let order = sim["eviction"]["before"]["order"].as_array().unwrap();
    let multus = order
        .iter()
        .find(|r| r["pod"] == "kube-system/kube-multus-ds-7xk2p")
        .unwrap();
    // Multus's limit equals its request: at its limit it still does not exceed it.
    assert_eq!(multus["usage_source"], "assumed-limits");
    assert_eq!(multus["exceeds_request"], false);
    let fluent = order
        .iter()
        .find(|r| r["pod"] == "logging/fluent-bit-x2k8d")
        .unwrap();
    assert_eq!(
        fluent["exceeds_request"], true,
        "a 256Mi limit over a 64Mi request"
    );
}

/// `simulate` of node-a under `pressure` with the usage file `usage_yaml`, in the format
/// `extra` asks for (nothing: the table).
fn under_pressure(pressure: &str, usage_yaml: &str, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let usage = dir.path().join("usage.yaml");
    std::fs::write(&usage, usage_yaml).unwrap();
    let usage = usage.display().to_string();
    let mut args = vec![
        "simulate",
        "--snapshot",
        SNAPSHOT,
        "--node",
        "node-a",
        "--pressure",
        pressure,
        "--usage",
        &usage,
    ];
    args.extend_from_slice(extra);
    priorityguard(&args)
}

#[test]
fn ephemeral_storage_pressure_uses_its_own_usage() {
    let out = under_pressure(
        "ephemeral-storage",
        "shop/report-generator-0: {ephemeral-storage: 20Gi}\n",
        &["-o", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let sim = json(&out);
    assert_eq!(sim["eviction"]["before"]["pressure"], "ephemeral-storage");
    assert_eq!(
        sim["eviction"]["before"]["order"][0]["pod"],
        "shop/report-generator-0"
    );
}

#[test]
fn pid_pressure_ranks_by_priority_then_processes() {
    // Under PID pressure requests do not count: the biggest process count among the
    // lowest-priority pods goes first, however much memory it uses.
    let usage = "shop/report-generator-0: {processes: 900, memory: 1Mi}\n";
    let out = under_pressure("pid", usage, &["-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sim = json(&out);
    assert_eq!(sim["eviction"]["before"]["pressure"], "pid");
    let first = &sim["eviction"]["before"]["order"][0];
    assert_eq!(first["pod"], "shop/report-generator-0");
    assert_eq!(first["usage"], 900);
    let table = under_pressure("pid", usage, &[]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("under PID pressure"), "{text}");
    assert!(text.contains("900 processes (measured)"), "{text}");
}
