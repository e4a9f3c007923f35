//! The simulator against the kubelet's own code (v1.36, `pg-kubelet-harness`, built by
//! `scripts/kubelet-harness` from the k8s.io/kubernetes module): the oom_score_adj of every
//! container (`pkg/kubelet/qos.GetContainerOOMScoreAdjust`) and the node-pressure eviction
//! order (`pkg/kubelet/eviction`'s manager, driven round by round). The harness gets the same
//! generated pods (JSON, as the API stores them) that the simulator reads through pg-sources'
//! snapshot reader, and every value or order must be exactly the simulator's.

mod generate;

use pg_model::snapshot::Usage;
use pg_simulate::rank;
use pg_simulate::{Assume, Pressure};
use pg_simulate::{ContainerKind, node_scores};
use pg_sources::snapshot::Builder;
use serde_json::{Value, json};
use std::collections::BTreeSet;
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
    // Straight to stderr, past the test harness's capture, so CI logs show the tally.
    let _ = writeln!(
        std::io::stderr(),
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

const EVICTION_SCENARIOS: usize = 240;

#[test]
fn cluster_kubelet_eviction_agreement() {
    let Some(harness) = harness() else { return };
    let scenarios: Vec<_> = (0..EVICTION_SCENARIOS)
        .map(generate::eviction_scenario)
        .collect();
    let mut items = Vec::new();
    let mut usage = Usage::default();
    for s in &scenarios {
        items.push(
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": s.node},
                          "status": {"capacity": {"memory": "64Gi", "cpu": "8", "pods": "110"}}}),
        );
        for p in &s.pods {
            items.push(p.json.clone());
            let u = usage.pods.entry(p.key.clone()).or_default();
            match generate::PRESSURES[s.pressure].1 {
                Pressure::Memory => u.memory = Some(p.usage),
                Pressure::EphemeralStorage => u.ephemeral_storage = Some(p.usage),
                Pressure::Pid => u.processes = Some(p.usage),
            }
        }
    }
    let mut b = Builder::default();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    b.add_text(list.to_string().as_bytes(), "generated")
        .unwrap();
    let snap = b.finish();

    // Each scenario twice: pods listed as generated, and reversed. Go's sort.Sort is an
    // insertion sort for up to 12 elements, which keeps equal elements in input order: pods the
    // kubelet really cannot tell apart come out in opposite orders in the two runs, and pods it
    // can, in the same order. That proves every tie the simulator reports is one.
    let input = |reversed: bool| -> Value {
        let scenarios: Vec<Value> = scenarios
            .iter()
            .map(|s| {
                let mut pods: Vec<Value> = s
                    .pods
                    .iter()
                    .map(|p| json!({"pod": p.json, "usage": p.usage}))
                    .collect();
                if reversed {
                    pods.reverse();
                }
                json!({"pressure": generate::PRESSURES[s.pressure].0, "pods": pods})
            })
            .collect();
        json!({ "scenarios": scenarios })
    };
    assert!(scenarios.iter().all(|s| s.pods.len() <= 12));
    let forward = run(&harness, "eviction", &input(false));
    let backward = run(&harness, "eviction", &input(true));
    let orders = forward["orders"].as_array().unwrap();
    let reversed_orders = backward["orders"].as_array().unwrap();
    assert_eq!(orders.len(), scenarios.len());
    assert_eq!(reversed_orders.len(), scenarios.len());
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    };

    let mut disagreements = Vec::new();
    let (mut with_ties, mut tie_order_differs, mut with_immune, mut evictions) = (0, 0, 0, 0);
    let mut per_pressure = [0usize; 3];
    for ((s, o), o_rev) in scenarios.iter().zip(orders).zip(reversed_orders) {
        let evicted = names(&o["evicted"]);
        let evicted_rev = names(&o_rev["evicted"]);
        let mut left = names(&o["left"]);
        left.sort();
        let mut left_rev = names(&o_rev["left"]);
        left_rev.sort();
        let node = snap.nodes.iter().find(|n| n.name == s.node).unwrap();
        let ours = rank(
            &snap,
            node,
            generate::PRESSURES[s.pressure].1,
            &usage,
            Assume::Requests,
        );
        let immune: Vec<String> = ours.immune.iter().map(|i| i.pod.clone()).collect();
        // Within a tie (pods the kubelet's comparison cannot tell apart) any order is right:
        // compare the kubelet's pods at each tied group's positions as a set.
        let mut agree = left == immune
            && left_rev == immune
            && evicted.len() == ours.order.len()
            && evicted_rev.len() == ours.order.len();
        if agree {
            for r in ours
                .order
                .iter()
                .filter(|r| r.pod == ours.order[r.rank - 1].pod)
            {
                let group: BTreeSet<&str> = ours
                    .order
                    .iter()
                    .filter(|x| x.rank == r.rank)
                    .map(|x| x.pod.as_str())
                    .collect();
                let span = r.rank - 1..r.rank - 1 + r.tied;
                let theirs: BTreeSet<&str> =
                    evicted[span.clone()].iter().map(String::as_str).collect();
                let theirs_rev: BTreeSet<&str> = evicted_rev[span.clone()]
                    .iter()
                    .map(String::as_str)
                    .collect();
                // A real tie comes out reversed when the input is.
                let mut flipped = evicted_rev[span.clone()].to_vec();
                flipped.reverse();
                agree &= group == theirs && group == theirs_rev && flipped == evicted[span];
            }
        }
        if ours.order.iter().any(|r| r.tied > 1) {
            with_ties += 1;
            let ours_names: Vec<&str> = ours.order.iter().map(|r| r.pod.as_str()).collect();
            if ours_names != evicted.iter().map(String::as_str).collect::<Vec<_>>() {
                tie_order_differs += 1;
            }
        }
        with_immune += usize::from(!left.is_empty());
        evictions += evicted.len();
        if agree {
            per_pressure[s.pressure] += 1;
        } else {
            let ours_text: Vec<String> = ours
                .order
                .iter()
                .map(|r| format!("{}@{}x{}", r.pod, r.rank, r.tied))
                .collect();
            disagreements.push(format!(
                "  {} ({}): kubelet evicts {evicted:?} ({evicted_rev:?} from reversed input), keeps {left:?}\n    simulator: {ours_text:?}, immune {immune:?}\n    pods: {}",
                s.namespace,
                generate::PRESSURES[s.pressure].0,
                serde_json::to_string(&s.pods.iter().map(|p| json!({"pod": p.json, "usage": p.usage})).collect::<Vec<_>>()).unwrap()
            ));
        }
    }
    let agree = scenarios.len() - disagreements.len();
    let _ = writeln!(
        std::io::stderr(),
        "{agree}/{} eviction scenarios agree (memory {}, ephemeral-storage {}, PID {}; {evictions} \
         evictions; {with_immune} scenarios with pods the kubelet refused to evict; {with_ties} \
         with ties, where any order inside a tie is accepted, and the kubelet's order differed \
         from the simulator's listing in {tie_order_differs})",
        scenarios.len(),
        per_pressure[0],
        per_pressure[1],
        per_pressure[2],
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert!(
        with_ties > 0 && with_immune > 0,
        "the generator must produce ties and immune pods"
    );
}
