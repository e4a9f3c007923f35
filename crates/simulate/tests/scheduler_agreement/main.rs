//! The simulator's preemption against the real kube-scheduler (v1.36, pg-testenv): generated
//! scenarios of fake nodes filled with pods of mixed priorities and PodDisruptionBudgets, and
//! one pending pod each. For every scenario the simulator predicts from a `kubectl get
//! nodes,pods,priorityclasses,poddisruptionbudgets -A -o json` snapshot taken just before the
//! pending pod is created; the real scheduler then acts, and the pods it deleted and the node it
//! nominated (or bound the pod to) must be exactly the prediction.
//!
//! One control plane serves every scenario: each has its own namespace and nodes, which are
//! removed before the next. No kubelet runs, so pods are created already bound
//! (`spec.nodeName`) with `terminationGracePeriodSeconds: 0` (the scheduler's deletes are then
//! immediate), and `status.startTime` is written through the status subresource, since the
//! scheduler orders equal-priority pods by it.
//!
//! No sleeps: before the pending pod is created, a sentinel pod the scheduler can never place
//! proves (once the scheduler has marked it unschedulable) that its informer has seen every
//! earlier write, and the scheduler's own verdict ends each scenario: the pod bound, or its
//! `PodScheduled=False` condition carrying the preemption attempt's result. Coverage counts
//! what the real scheduler did, and must include every outcome the generator aims at.

mod generate;

use generate::{
    KINDS, SPREAD_SCENARIOS, Scenario, classes_yaml, pdb_yaml, pod_yaml, scenario, start_time,
};
use pg_simulate::{Outcome, Preemption};
use pg_sources::snapshot::Builder;
use pg_testenv::{Options, TestCluster};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

/// 13 of each of the eight kinds, then the topology spread ones.
const SCENARIOS: usize = 13 * KINDS.len() + SPREAD_SCENARIOS;

/// What the scenarios are built to make the real scheduler do; each must happen at least once.
const INTENDED: [&str; 8] = [
    "preempts",
    "preempts, violating a PDB",
    "preempts for a pinned DaemonSet pod",
    "preempts for a host port",
    "preempts for its anti-affinity",
    "preempts for the running pods' anti-affinity",
    "preempts for topology spread",
    "stays pending",
];

/// What the real scheduler did with the pending pod.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    deleted: BTreeSet<String>,
    nominated: Option<String>,
    bound: Option<String>,
}

fn setup(cluster: &TestCluster, s: &Scenario) {
    for n in &s.nodes {
        cluster.create_fake_node(
            &n.name,
            &format!("{}m", n.cpu_m),
            &format!("{}Mi", n.mem_mi),
            &n.pods.to_string(),
        );
        if !n.labels.is_empty() {
            let mut args = vec!["label".to_string(), "node".into(), n.name.clone()];
            args.extend(n.labels.iter().map(|(k, v)| format!("{k}={v}")));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cluster.kubectl_ok(&args, None);
        }
    }
    cluster.kubectl_ok(&["create", "namespace", &s.namespace], None);
    for b in &s.pdbs {
        cluster.kubectl_ok(&["create", "-f", "-"], Some(&pdb_yaml(&s.namespace, b)));
        // No disruption controller runs (and our pods are never Ready): set the allowance the
        // scheduler reads, as the controller would.
        let status = format!(
            r#"{{"status":{{"disruptionsAllowed":{},"currentHealthy":1,"desiredHealthy":1,"expectedPods":1,"observedGeneration":1}}}}"#,
            b.disruptions_allowed
        );
        cluster.kubectl_ok(
            &[
                "patch",
                "pdb",
                &b.name,
                "-n",
                &s.namespace,
                "--subresource=status",
                "--type=merge",
                "-p",
                &status,
            ],
            None,
        );
    }
    let pods: Vec<String> = s.pods.iter().map(|p| pod_yaml(&s.namespace, p)).collect();
    if !pods.is_empty() {
        cluster.kubectl_ok(&["create", "-f", "-"], Some(&pods.join("---\n")));
    }
    // Start times in one status update per pod list.
    let mut list: Value = serde_json::from_str(
        &cluster.kubectl_ok(&["get", "pods", "-n", &s.namespace, "-o", "json"], None),
    )
    .unwrap();
    for item in list["items"].as_array_mut().unwrap() {
        let name = item["metadata"]["name"].as_str().unwrap().to_string();
        let spec = s.pods.iter().find(|p| p.name == name).unwrap();
        item["status"]["startTime"] = Value::String(start_time(spec.started));
    }
    if !s.pods.is_empty() {
        cluster.kubectl_ok(
            &["replace", "--subresource=status", "-f", "-"],
            Some(&list.to_string()),
        );
    }
}

fn snapshot(cluster: &TestCluster) -> pg_model::snapshot::Snapshot {
    let json = cluster.kubectl_ok(
        &[
            "get",
            "nodes,pods,priorityclasses,poddisruptionbudgets",
            "-A",
            "-o",
            "json",
        ],
        None,
    );
    let mut b = Builder::default();
    b.add_text(json.as_bytes(), "snapshot").unwrap();
    let snap = b.finish();
    assert!(snap.warnings.is_empty(), "{:?}", snap.warnings);
    snap
}

/// Creates a pod no node can take (a node selector nothing has; preemption policy Never, so it
/// disturbs nobody) and waits until the scheduler has marked it unschedulable. The scheduler
/// reads pods through one watch, in order, so it has then seen every pod and start time
/// written before. The sentinel is deleted again before the snapshot is taken.
fn sync_scheduler(cluster: &TestCluster, ns: &str) {
    let sentinel = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: sentinel\n  namespace: {ns}\n  labels:\n    app: sentinel\nspec:\n  priorityClassName: pg-never\n  nodeSelector:\n    pg-testenv/no-such-node: \"true\"\n  containers:\n  - name: main\n    image: pause:3.10\n"
    );
    cluster.kubectl_ok(&["create", "-f", "-"], Some(&sentinel));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pod: Value = serde_json::from_str(
            &cluster.kubectl_ok(&["get", "pod", "sentinel", "-n", ns, "-o", "json"], None),
        )
        .unwrap();
        if scheduled_condition(&pod).is_some_and(|c| c["status"] == "False") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{ns}: the scheduler never looked at the sentinel pod"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.kubectl_ok(
        &[
            "delete",
            "pod",
            "sentinel",
            "-n",
            ns,
            "--grace-period=0",
            "--force",
            "--wait=true",
        ],
        None,
    );
}

/// The pod's `PodScheduled` condition.
fn scheduled_condition(pod: &Value) -> Option<&Value> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "PodScheduled")
}

fn deleted_or_doomed(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_string()
        || pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "DisruptionTarget" && c["status"] == "True")
}

/// Watches the namespace until the scheduler says it is done: the preemptor bound, or found
/// unschedulable with the preemption attempt's result in the condition (`preemption: ...`)
/// and no node nominated (a nominated pod is bound once its victims are gone).
fn observe(cluster: &TestCluster, s: &Scenario) -> Observed {
    let all: BTreeSet<String> = s
        .pods
        .iter()
        .map(|p| format!("{}/{}", s.namespace, p.name))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list: Value = serde_json::from_str(
            &cluster.kubectl_ok(&["get", "pods", "-n", &s.namespace, "-o", "json"], None),
        )
        .unwrap();
        let items = list["items"].as_array().unwrap();
        let present: BTreeSet<String> = items
            .iter()
            .filter(|p| !deleted_or_doomed(p))
            .map(|p| {
                format!(
                    "{}/{}",
                    s.namespace,
                    p["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect();
        let me = items
            .iter()
            .find(|p| p["metadata"]["name"] == "preemptor")
            .expect("the preemptor exists");
        let text = |v: &Value| v.as_str().filter(|t| !t.is_empty()).map(str::to_string);
        let seen = Observed {
            deleted: all.difference(&present).cloned().collect(),
            nominated: text(&me["status"]["nominatedNodeName"]),
            bound: text(&me["spec"]["nodeName"]),
        };
        let gave_up = scheduled_condition(me).is_some_and(|c| {
            c["status"] == "False"
                && c["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("preemption:"))
        });
        if seen.bound.is_some() || (gave_up && seen.nominated.is_none()) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{}: the scheduler never settled: {seen:?}; PodScheduled: {}",
            s.namespace,
            scheduled_condition(me).unwrap_or(&Value::Null)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn teardown(cluster: &TestCluster, s: &Scenario) {
    cluster.kubectl_ok(
        &[
            "delete",
            "pods",
            "--all",
            "-n",
            &s.namespace,
            "--grace-period=0",
            "--force",
            "--wait=false",
        ],
        None,
    );
    let nodes: Vec<&str> = s.nodes.iter().map(|n| n.name.as_str()).collect();
    let mut args = vec!["delete", "node"];
    args.extend(nodes);
    cluster.kubectl_ok(&args, None);
}

/// What the real scheduler did, in the words of [`INTENDED`] (and "fits").
fn observed_outcome(s: &Scenario, seen: &Observed) -> &'static str {
    if seen.deleted.is_empty() {
        return if seen.bound.is_some() {
            "fits"
        } else {
            "stays pending"
        };
    }
    if s.preemptor.pinned_to.is_some() {
        return "preempts for a pinned DaemonSet pod";
    }
    if s.preemptor.host_port.is_some() {
        return "preempts for a host port";
    }
    if s.preemptor.anti_affinity.is_some() {
        return "preempts for its anti-affinity";
    }
    if s.pods.iter().any(|p| p.anti_affinity.is_some()) {
        return "preempts for the running pods' anti-affinity";
    }
    let landed = seen.nominated.as_ref().or(seen.bound.as_ref());
    if let (Some(_), Some(node)) = (&s.preemptor.spread, landed) {
        // Room for the pod's CPU already: the victims went for the spread.
        let n = s.nodes.iter().find(|n| &n.name == node).unwrap();
        let used: i64 = s
            .pods
            .iter()
            .filter(|p| p.node.as_ref() == Some(node))
            .map(|p| p.cpu_m)
            .sum();
        if n.cpu_m - used >= s.preemptor.cpu_m {
            return "preempts for topology spread";
        }
    }
    let violated = s.pdbs.iter().any(|b| {
        let gone = seen
            .deleted
            .iter()
            .filter(|d| {
                let name = d.rsplit('/').next().unwrap();
                s.pods.iter().any(|p| p.name == name && p.app == b.app)
            })
            .count();
        i64::try_from(gone).unwrap() > b.disruptions_allowed
    });
    if violated {
        "preempts, violating a PDB"
    } else {
        "preempts"
    }
}

/// Compares; returns a description of the difference, if any.
fn compare(predicted: &Preemption, seen: &Observed) -> Result<String, String> {
    let victims: BTreeSet<String> = predicted.victims().iter().map(|v| v.pod.clone()).collect();
    let describe = format!("{:?}", predicted.result);
    match &predicted.result {
        Outcome::Preempts {
            node,
            decided_by,
            candidates,
            pdb_violations,
            ..
        } => {
            let landed = seen.nominated.as_ref().or(seen.bound.as_ref());
            if seen.deleted == victims && landed == Some(node) {
                Ok(format!(
                    "preempts {} on {node} ({} candidate node(s){}{})",
                    victims.iter().cloned().collect::<Vec<_>>().join(", "),
                    candidates.len(),
                    decided_by
                        .as_deref()
                        .map(|d| format!(", chosen by {d}"))
                        .unwrap_or_default(),
                    if *pdb_violations > 0 {
                        format!(", {pdb_violations} PDB violation(s)")
                    } else {
                        String::new()
                    }
                ))
            } else {
                Err(format!("predicted {describe}\n    observed {seen:?}"))
            }
        }
        Outcome::Pending { reason } => {
            if seen.deleted.is_empty() && seen.nominated.is_none() && seen.bound.is_none() {
                Ok(format!("stays pending ({reason})"))
            } else {
                Err(format!("predicted {describe}\n    observed {seen:?}"))
            }
        }
        Outcome::Fits { nodes } => {
            if seen.deleted.is_empty() && seen.bound.as_ref().is_some_and(|b| nodes.contains(b)) {
                Ok(format!(
                    "fits on {}",
                    seen.bound.as_deref().unwrap_or_default()
                ))
            } else {
                Err(format!("predicted {describe}\n    observed {seen:?}"))
            }
        }
    }
}

#[test]
fn cluster_scheduler_agreement() {
    pg_testenv::require_cluster!();
    let started = Instant::now();
    let cluster = TestCluster::start(Options {
        scheduler: true,
        ..Options::default()
    })
    .unwrap();
    cluster.kubectl_ok(&["create", "-f", "-"], Some(&classes_yaml()));
    let mut agree = 0;
    let mut report = Vec::new();
    let mut outcomes = BTreeSet::new();
    for id in 0..SCENARIOS {
        let s = scenario(id);
        setup(&cluster, &s);
        sync_scheduler(&cluster, &s.namespace);
        let snap = snapshot(&cluster);
        let pending = pg_sources::snapshot::pending_pod(
            &pod_yaml(&s.namespace, &s.preemptor),
            "preemptor.yaml",
            &snap,
            None,
        )
        .unwrap();
        let predicted = pg_simulate::preempt(&snap, &pending);
        cluster.kubectl_ok(
            &["create", "-f", "-"],
            Some(&pod_yaml(&s.namespace, &s.preemptor)),
        );
        let seen = observe(&cluster, &s);
        outcomes.insert(observed_outcome(&s, &seen));
        match compare(&predicted, &seen) {
            Ok(what) => {
                agree += 1;
                report.push(format!("{} ({}): agree: {what}", s.namespace, s.kind));
            }
            Err(diff) => report.push(format!("{} ({}): DISAGREE: {diff}", s.namespace, s.kind)),
        }
        teardown(&cluster, &s);
    }
    for line in &report {
        println!("{line}");
    }
    println!("outcomes the real scheduler produced: {outcomes:?}");
    // Straight to stderr, past the test harness's capture, so CI logs show the tally.
    let _ = writeln!(
        std::io::stderr(),
        "{agree}/{SCENARIOS} scenarios agree ({} s)",
        started.elapsed().as_secs()
    );
    assert_eq!(agree, SCENARIOS, "{}", report.join("\n"));
    let missing: Vec<&str> = INTENDED
        .into_iter()
        .filter(|o| !outcomes.contains(o))
        .collect();
    assert!(
        missing.is_empty(),
        "no scenario made the scheduler do: {missing:?}\n{}",
        report.join("\n")
    );
}
