//! The simulator against the kubelet's own code (v1.36, `pg-kubelet-harness`, built by
//! `scripts/kubelet-harness` from the k8s.io/kubernetes module): the oom_score_adj of every
//! container (`pkg/kubelet/qos.GetContainerOOMScoreAdjust`) and the node-pressure eviction
//! order (`pkg/kubelet/eviction`'s manager, driven round by round). The harness gets the same
//! generated pods (JSON, as the API stores them) that the simulator reads through its snapshot
//! loader, and every value or order must be exactly the simulator's.

mod generate;

use pg_simulate::oom::{ContainerKind, node_scores};
use pg_simulate::snapshot::Builder;
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The harness binary, or `None` (after a loud skip, or a failure under CI=true).
fn harness() -> Option<PathBuf> {
    let path = pg_testenv::bin_dir().join("pg-kubelet-harness");
    if path.is_file() {
        Some(path)
    } else {
        pg_testenv::skip(&format!(
            "{} not found; run scripts/kubelet-harness",
            path.display()
        ));
        None
    }
}

/// Runs the harness in `mode` on `input`, returning its JSON answer.
fn run(harness: &PathBuf, mode: &str, input: &Value) -> Value {
    let mut child = Command::new(harness)
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pg-kubelet-harness");
    let text = input.to_string();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "pg-kubelet-harness {mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const OOM_PODS: usize = 600;

#[test]
fn kubelet_oom_score_adj_agreement() {
    let Some(harness) = harness() else { return };
    // One node per memory size class; pod i runs on node i % classes.
    let nodes: Vec<Value> = generate::NODE_MEMORY
        .iter()
        .enumerate()
        .map(|(n, mem)| {
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": format!("node-{n}")},
                   "status": {"capacity": {"memory": mem, "cpu": "8", "pods": "110"},
                              "allocatable": {"memory": mem, "cpu": "8", "pods": "110"}}})
        })
        .collect();
    let pods: Vec<Value> = (0..OOM_PODS)
        .map(|i| generate::oom_pod(i, &format!("node-{}", i % nodes.len())))
        .collect();
    let mut b = Builder::default();
    let list = json!({"apiVersion": "v1", "kind": "List",
                      "items": nodes.iter().chain(&pods).collect::<Vec<_>>()});
    b.add_text(list.to_string().as_bytes(), "generated")
        .unwrap();
    let snap = b.finish();

    // Every container of every pod: the simulator's table, and the same container for the
    // kubelet's function.
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    let mut labels = Vec::new();
    for node in &snap.nodes {
        let table = node_scores(&snap, node).expect("node has a memory capacity");
        for score in &table.containers {
            let name = score.pod.trim_start_matches("oom/");
            let i: usize = name.trim_start_matches("case-").parse().unwrap();
            let pod = &pods[i];
            let init = score.kind != ContainerKind::Container;
            let field = if init { "initContainers" } else { "containers" };
            let index = pod["spec"][field]
                .as_array()
                .unwrap()
                .iter()
                .position(|c| c["name"] == score.container.as_str())
                .unwrap();
            cases.push(json!({"pod": pod, "init": init, "index": index,
                              "memoryCapacity": table.memory_capacity}));
            ours.push(score.oom_score_adj);
            labels.push(format!(
                "{}/{} ({:?}, {:?}) on {} ({} bytes)",
                score.pod, score.container, score.kind, score.qos, node.name, table.memory_capacity
            ));
        }
    }
    let answer = run(&harness, "oom", &json!({ "cases": cases }));
    let theirs: Vec<i64> = answer["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(theirs.len(), ours.len());
    let mut disagreements = Vec::new();
    for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        if a != b {
            disagreements.push(format!(
                "  {}: simulator {a}, kubelet {b}\n    pod: {}",
                labels[k], cases[k]["pod"]
            ));
        }
    }
    // Coverage: what the kubelet's answers span.
    let count = |f: &dyn Fn(i64) -> bool| theirs.iter().filter(|v| f(**v)).count();
    let agree = ours.len() - disagreements.len();
    println!(
        "{agree}/{} oom_score_adj values agree ({} pods on {} node memory sizes; kubelet values: \
         {} at -997, {} at 1000, {} at 999, {} at 3, {} in between)",
        ours.len(),
        pods.len(),
        nodes.len(),
        count(&|v| v == -997),
        count(&|v| v == 1000),
        count(&|v| v == 999),
        count(&|v| v == 3),
        count(&|v| v > 3 && v < 999),
    );
    assert!(ours.len() >= 1000, "only {} cases", ours.len());
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    for bucket in [-997, 1000, 999, 3] {
        assert!(count(&|v| v == bucket) > 0, "no case scored {bucket}");
    }
    assert!(count(&|v| v > 3 && v < 999) > 100);
}
