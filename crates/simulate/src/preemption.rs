//! kube-scheduler's DefaultPreemption (`pkg/scheduler/framework/preemption/preemption.go` and
//! `plugins/defaultpreemption/default_preemption.go`, v1.36), for one pending pod.
//!
//! 1. A pod with `preemptionPolicy: Never` never preempts.
//! 2. Candidate nodes are those whose filters failed with `Unschedulable` (not
//!    `UnschedulableAndUnresolvable`).
//! 3. On each, `SelectVictimsOnNode`: remove every pod of strictly lower priority; if the pod
//!    still does not fit, the node is out. Otherwise sort them by importance (priority, then
//!    older start time first), split them into PDB-violating and non-violating ones (budgets
//!    counted down in that order), and reprieve highest-importance first — violating ones
//!    before the others — every pod whose return still lets the preemptor fit. The rest are
//!    the victims.
//! 4. `pickOneNodeForPreemption`: fewest PDB violations, then the lowest highest-victim
//!    priority, then the smallest sum of victim priorities, then the fewest victims, then the
//!    latest start time of the highest-priority victims; a remaining tie is broken by Go's map
//!    order (this simulator reports it and names the first node alphabetically).
//!
//! Nodes are all dry-run here; the scheduler dry-runs about max(10% of nodes, 100) from a
//! random offset, which only matters above 100 potential nodes: the result then says so
//! ([`Sampling`]), since the scheduler may nominate any candidate.

use crate::resources::{Requests, pod_requests};
use crate::schedule::{
    Fit, NodeLoad, Spread, anti_affinity_fit, nominated_load, nominated_pods, ports_fit,
    resources_fit, static_filters,
};
use pg_model::snapshot::{Pdb, Pod, Snapshot};
use serde::Serialize;
use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Victim {
    pub pod: String,
    pub priority: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Deleting it takes a PodDisruptionBudget below its allowance.
    pub violates_pdb: bool,
    #[serde(skip)]
    start_time: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub node: String,
    /// Most important first, as the scheduler keeps them.
    pub victims: Vec<Victim>,
    pub pdb_violations: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    pub node: String,
    pub fit: Fit,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Fits without preemption; the scheduler scores these nodes and binds to the best one.
    Fits { nodes: Vec<String> },
    /// Preempts `victims` on `node` (the scheduler sets the pod's `nominatedNodeName`).
    Preempts {
        node: String,
        victims: Vec<Victim>,
        pdb_violations: usize,
        /// The criterion that singled the node out among several candidates.
        #[serde(skip_serializing_if = "Option::is_none")]
        decided_by: Option<String>,
        candidates: Vec<Candidate>,
        /// More than 100 nodes could be preempted on: the scheduler dry-runs only a sample.
        #[serde(skip_serializing_if = "Option::is_none")]
        sampling: Option<Sampling>,
    },
    /// Stays pending.
    Pending { reason: String },
}

/// DefaultPreemption's candidate sampling (`GetOffsetAndNumCandidates`, `DryRunPreemption`):
/// with more than 100 nodes where preemption might help, the scheduler dry-runs them from a
/// random offset, in parallel, and stops once it has `tried` candidates (one of them without
/// PDB violations); it nominates the best of those. So it may nominate any node in
/// `candidates`, and `node` only when that node is among the ones it tried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sampling {
    /// Nodes that failed only for reasons preemption can fix.
    pub potential_nodes: usize,
    /// max(10% of them, 100): the candidates the scheduler collects before choosing.
    pub tried: usize,
}

impl Sampling {
    /// `calculateNumCandidates` with the default `minCandidateNodesPercentage: 10` and
    /// `minCandidateNodesAbsolute: 100`; `None` when every potential node is dry-run.
    pub fn of(potential_nodes: usize) -> Option<Sampling> {
        let tried = (potential_nodes * 10 / 100).max(100).min(potential_nodes);
        (tried < potential_nodes).then_some(Sampling {
            potential_nodes,
            tried,
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Preemption {
    pub pod: String,
    pub priority: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    pub preemption_policy: &'static str,
    pub requests: Requests,
    pub result: Outcome,
    /// Why the pod does not fit each node as things stand.
    pub nodes: Vec<NodeStatus>,
}

impl Preemption {
    pub fn victims(&self) -> &[Victim] {
        match &self.result {
            Outcome::Preempts { victims, .. } => victims,
            _ => &[],
        }
    }

    pub fn nominated_node(&self) -> Option<&str> {
        match &self.result {
            Outcome::Preempts { node, .. } => Some(node),
            _ => None,
        }
    }
}

/// `util.MoreImportantPod` as an ordering: higher priority first, then the earlier start
/// time (a pod with none counts as starting now, i.e. last); names make it total.
fn importance(a: &Pod, b: &Pod) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| start_key(&a.start_time).cmp(&start_key(&b.start_time)))
        .then_with(|| a.key().cmp(&b.key()))
}

/// Start times compare as RFC 3339 UTC text; a missing one is "now", later than any.
fn start_key(t: &Option<String>) -> (bool, &str) {
    (t.is_none(), t.as_deref().unwrap_or(""))
}

/// Whether the preemptor fits `load` minus the pods not `present`, with the nominated pods
/// the scheduler adds to the node (their requests, host ports, labels and anti-affinity).
struct Dry<'a> {
    load: &'a NodeLoad<'a>,
    /// Every node's load, for anti-affinity across a topology domain.
    all: &'a [NodeLoad<'a>],
    pod: &'a Pod,
    req: Requests,
    /// Topology spread counts over the whole cluster, before any pod is removed.
    spread: &'a Spread<'a>,
    nominated_pods: Vec<&'a Pod>,
    nominated: (Requests, usize),
}

impl Dry<'_> {
    fn fits(&self, present: &[bool]) -> bool {
        let mut used = self.nominated.0.clone();
        let mut count = self.nominated.1;
        for ((_, r), here) in self.load.pods.iter().zip(present) {
            if *here {
                used.add(r);
                count += 1;
            }
        }
        let others = self
            .load
            .pods
            .iter()
            .zip(present)
            .filter(|(_, here)| **here)
            .map(|((p, _), _)| *p)
            .chain(self.nominated_pods.iter().copied());
        let here = self.load.node.name.as_str();
        let cluster = self
            .all
            .iter()
            .filter(|l| l.node.name != here)
            .flat_map(|l| l.pods.iter().map(|(p, _)| (*p, l.node)))
            .chain(
                self.load
                    .pods
                    .iter()
                    .zip(present)
                    .filter(|(_, here)| **here)
                    .map(|((p, _), _)| (*p, self.load.node)),
            )
            .chain(self.nominated_pods.iter().map(|p| (*p, self.load.node)));
        let left: Vec<&Pod> = self
            .load
            .pods
            .iter()
            .zip(present)
            .filter(|(_, here)| !**here)
            .map(|((p, _), _)| *p)
            .collect();
        static_filters(self.pod, self.load.node).fits()
            && ports_fit(self.pod, others).fits()
            && resources_fit(&self.req, self.load.node, &used, count).fits()
            && self
                .spread
                .fit(self.load.node, &self.nominated_pods, &left)
                .fits()
            && anti_affinity_fit(self.pod, self.load.node, cluster).fits()
    }
}

/// `filterPodsWithPDBViolation`: walks pods in importance order, counting down each matching
/// budget's `disruptionsAllowed`; a pod that takes any budget below zero is violating.
fn pdb_violations(pods: &[&Pod], pdbs: &[Pdb]) -> Vec<bool> {
    let mut allowed: Vec<i64> = pdbs.iter().map(|p| p.disruptions_allowed).collect();
    pods.iter()
        .map(|pod| {
            let mut violating = false;
            for (i, pdb) in pdbs.iter().enumerate() {
                if !pdb.matches(pod) || pdb.disrupted_pods.contains(&pod.name) {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violating = true;
                }
            }
            violating
        })
        .collect()
}

/// `SelectVictimsOnNode`, or `None` when preemption cannot help on this node.
fn select_victims(dry: &Dry, pdbs: &[Pdb]) -> Option<Candidate> {
    let pods = &dry.load.pods;
    let mut present = vec![true; pods.len()];
    let mut potential: Vec<usize> = (0..pods.len())
        .filter(|&i| pods[i].0.priority < dry.pod.priority)
        .collect();
    if potential.is_empty() {
        return None;
    }
    for &i in &potential {
        present[i] = false;
    }
    if !dry.fits(&present) {
        return None;
    }
    potential.sort_by(|&a, &b| importance(pods[a].0, pods[b].0));
    let ordered: Vec<&Pod> = potential.iter().map(|&i| pods[i].0).collect();
    let violating = pdb_violations(&ordered, pdbs);
    let (first, second): (Vec<_>, Vec<_>) = potential
        .iter()
        .zip(&violating)
        .map(|(&i, &v)| (i, v))
        .partition(|(_, v)| *v);
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for &(i, v) in first.iter().chain(&second) {
        present[i] = true;
        if !dry.fits(&present) {
            present[i] = false;
            pdb_violations += usize::from(v);
            let p = pods[i].0;
            victims.push(Victim {
                pod: p.key(),
                priority: p.priority,
                class: p.priority_class_name.clone(),
                violates_pdb: v,
                start_time: p.start_time.clone(),
            });
        }
    }
    if victims.is_empty() {
        return None;
    }
    if !first.is_empty() && !second.is_empty() {
        victims.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| start_key(&a.start_time).cmp(&start_key(&b.start_time)))
                .then_with(|| a.pod.cmp(&b.pod))
        });
    }
    Some(Candidate {
        node: dry.load.node.name.clone(),
        victims,
        pdb_violations,
    })
}

/// A node's score under one criterion; higher is better. Start times compare as text, a
/// missing one ("now") after any.
type Score = (i128, (bool, String));

/// A named score function of `pickOneNodeForPreemption`.
type Criterion = (&'static str, fn(&Candidate) -> Score);

/// `pickOneNodeForPreemption`'s score functions, in order.
const CRITERIA: [Criterion; 5] = [
    ("fewest PDB violations", |c| {
        (-(c.pdb_violations as i128), Default::default())
    }),
    ("lowest highest-priority victim", |c| {
        (-(c.victims[0].priority as i128), Default::default())
    }),
    ("smallest sum of victim priorities", |c| {
        let sum: i128 = c
            .victims
            .iter()
            .map(|v| v.priority as i128 + i32::MAX as i128 + 1)
            .sum();
        (-sum, Default::default())
    }),
    ("fewest victims", |c| {
        (-(c.victims.len() as i128), Default::default())
    }),
    ("latest start of the highest-priority victims", |c| {
        (0, earliest_top_start(c))
    }),
];

/// The earliest start time among the highest-priority victims (`GetEarliestPodStartTime`).
fn earliest_top_start(c: &Candidate) -> (bool, String) {
    let top = c.victims.iter().map(|v| v.priority).max().unwrap_or(0);
    c.victims
        .iter()
        .filter(|v| v.priority == top)
        .map(|v| start_key(&v.start_time))
        .min()
        .map_or((true, String::new()), |(none, t)| (none, t.to_string()))
}

/// The chosen candidate and the criterion that decided (None when there was only one).
fn pick(candidates: &[Candidate]) -> (usize, Option<String>) {
    if candidates.len() == 1 {
        return (0, None);
    }
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    for (name, score) in CRITERIA {
        let best = remaining
            .iter()
            .map(|&c| score(&candidates[c]))
            .max()
            .expect("candidates remain");
        remaining.retain(|&c| score(&candidates[c]) == best);
        if remaining.len() == 1 {
            return (remaining[0], Some(name.to_string()));
        }
    }
    let tied: Vec<&str> = remaining
        .iter()
        .map(|&c| candidates[c].node.as_str())
        .collect();
    let first = *remaining
        .iter()
        .min_by_key(|&&c| &candidates[c].node)
        .expect("candidates remain");
    (
        first,
        Some(format!(
            "a full tie between {}: the scheduler picks any of them",
            tied.join(", ")
        )),
    )
}

/// What the scheduler does with `pod` in `snapshot`.
pub fn simulate(snapshot: &Snapshot, pod: &Pod) -> Preemption {
    let req = Requests::of(&pod_requests(pod));
    let loads: Vec<NodeLoad> = snapshot
        .nodes
        .iter()
        .map(|n| {
            let mut load = NodeLoad::new(snapshot, n);
            load.pods.retain(|(p, _)| p.key() != pod.key());
            load
        })
        .collect();
    let spread = Spread::new(pod, &loads);
    let mut nodes = Vec::new();
    let mut fitting = Vec::new();
    for load in &loads {
        let nominated = nominated_pods(snapshot, &load.node.name, pod);
        let on_node = load
            .pods
            .iter()
            .map(|(p, _)| *p)
            .chain(nominated.iter().copied());
        let fit = match static_filters(pod, load.node) {
            Fit::Fits => match ports_fit(pod, on_node) {
                Fit::Fits => {
                    let (mut used, n) = nominated_load(&nominated);
                    used.add(&load.requested());
                    match resources_fit(&req, load.node, &used, n + load.pods.len()) {
                        Fit::Fits => match spread.fit(load.node, &nominated, &[]) {
                            Fit::Fits => anti_affinity_fit(
                                pod,
                                load.node,
                                loads
                                    .iter()
                                    .flat_map(|l| l.pods.iter().map(|(p, _)| (*p, l.node)))
                                    .chain(nominated.iter().map(|p| (*p, load.node))),
                            ),
                            other => other,
                        },
                        other => other,
                    }
                }
                other => other,
            },
            other => other,
        };
        if fit.fits() {
            fitting.push(load.node.name.clone());
        }
        nodes.push(NodeStatus {
            node: load.node.name.clone(),
            fit,
        });
    }
    let result = if !fitting.is_empty() {
        Outcome::Fits { nodes: fitting }
    } else if snapshot.nodes.is_empty() {
        Outcome::Pending {
            reason: "the snapshot has no nodes".into(),
        }
    } else if pod.preemption_never {
        Outcome::Pending {
            reason: "preemptionPolicy Never: the pod waits for room instead of preempting".into(),
        }
    } else {
        preempt(snapshot, pod, &req, &loads, &spread, &nodes)
    };
    Preemption {
        pod: pod.key(),
        priority: pod.priority,
        class: pod.priority_class_name.clone(),
        preemption_policy: if pod.preemption_never {
            "Never"
        } else {
            "PreemptLowerPriority"
        },
        requests: req,
        result,
        nodes,
    }
}

fn preempt(
    snapshot: &Snapshot,
    pod: &Pod,
    req: &Requests,
    loads: &[NodeLoad],
    spread: &Spread,
    statuses: &[NodeStatus],
) -> Outcome {
    let potential = statuses
        .iter()
        .filter(|st| matches!(st.fit, Fit::Unschedulable(_)))
        .count();
    let mut candidates = Vec::new();
    for (load, status) in loads.iter().zip(statuses) {
        if !matches!(status.fit, Fit::Unschedulable(_)) {
            continue;
        }
        let nominated = nominated_pods(snapshot, &load.node.name, pod);
        let dry = Dry {
            load,
            all: loads,
            pod,
            req: req.clone(),
            spread,
            nominated: nominated_load(&nominated),
            nominated_pods: nominated,
        };
        if let Some(c) = select_victims(&dry, &snapshot.pdbs) {
            candidates.push(c);
        }
    }
    if candidates.is_empty() {
        return Outcome::Pending {
            reason:
                "preemption is not helpful: no node has enough lower-priority pods to make room"
                    .into(),
        };
    }
    let (chosen, decided_by) = pick(&candidates);
    let c = &candidates[chosen];
    Outcome::Preempts {
        node: c.node.clone(),
        victims: c.victims.clone(),
        pdb_violations: c.pdb_violations,
        decided_by,
        candidates: candidates.clone(),
        sampling: Sampling::of(potential),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_model::snapshot::{Container, LabelSelector, Node, Quantity};

    fn list(pairs: &[(&str, &str)]) -> pg_model::snapshot::ResourceList {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap()))
            .collect()
    }

    fn node(name: &str, cpu: &str) -> Node {
        Node {
            name: name.into(),
            allocatable: list(&[("cpu", cpu), ("memory", "8Gi"), ("pods", "110")]),
            ..Default::default()
        }
    }

    fn pod(name: &str, node: Option<&str>, priority: i64, cpu: &str, start: u32) -> Pod {
        Pod {
            namespace: "ns".into(),
            name: name.into(),
            node_name: node.map(str::to_string),
            priority,
            start_time: Some(format!("2026-01-01T00:00:{start:02}Z")),
            labels: [("app".to_string(), name.to_string())].into(),
            containers: vec![Container {
                name: "c".into(),
                requests: list(&[("cpu", cpu)]),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn names(p: &Preemption) -> Vec<&str> {
        p.victims().iter().map(|v| v.pod.as_str()).collect()
    }

    fn with_port(mut p: Pod, ip: &str, protocol: &str, port: i64) -> Pod {
        p.containers[0]
            .host_ports
            .push(pg_model::snapshot::HostPort {
                ip: ip.into(),
                protocol: protocol.into(),
                port,
            });
        p
    }

    fn term(key: &str, value: &str) -> pg_model::snapshot::PodAffinityTerm {
        pg_model::snapshot::PodAffinityTerm {
            selector: Some(LabelSelector {
                match_labels: [(key.to_string(), value.to_string())].into(),
                match_expressions: vec![],
            }),
            topology_key: "kubernetes.io/hostname".into(),
            ..Default::default()
        }
    }

    fn hostname(mut n: Node) -> Node {
        n.labels
            .insert("kubernetes.io/hostname".into(), n.name.clone());
        n
    }

    #[test]
    fn anti_affinity_both_ways_preempts_the_conflicting_pod_only() {
        let mut agent_a = pod("agent-a", Some("a"), 10, "1", 1);
        agent_a.labels.insert("role".into(), "agent".into());
        let mut agent_b = pod("agent-b", Some("b"), 1000, "1", 2);
        agent_b.labels.insert("role".into(), "agent".into());
        let s = Snapshot::from_parts(
            vec![hostname(node("a", "8")), hostname(node("b", "8"))],
            vec![
                agent_a.clone(),
                agent_b.clone(),
                pod("other", Some("a"), 5, "1", 3),
            ],
            vec![],
        );
        // The pending pod keeps away from agents: only a's (lower-priority) agent can go.
        let mut shy = pod("shy", None, 100, "1", 9);
        shy.anti_affinity.push(term("role", "agent"));
        let p = simulate(&s, &shy);
        assert!(matches!(&p.nodes[1].fit, Fit::Unschedulable(r) if r.contains("anti-affinity")));
        assert_eq!(p.nominated_node(), Some("a"));
        assert_eq!(names(&p), ["ns/agent-a"]);
        // The agents keep away from it instead: the same victim.
        agent_a.anti_affinity.push(term("app", "plain"));
        agent_b.anti_affinity.push(term("app", "plain"));
        let s = Snapshot::from_parts(
            vec![hostname(node("a", "8")), hostname(node("b", "8"))],
            vec![agent_a, agent_b],
            vec![],
        );
        let p = simulate(&s, &pod("plain", None, 100, "1", 9));
        assert_eq!(names(&p), ["ns/agent-a"]);
        // Another namespace is out of the term's reach (no namespaces listed: its own).
        let mut elsewhere = pod("plain", None, 100, "1", 9);
        elsewhere.namespace = "other".into();
        assert!(matches!(
            simulate(&s, &elsewhere).result,
            Outcome::Fits { .. }
        ));
    }

    fn in_zone(mut n: Node, zone: &str) -> Node {
        n.labels
            .insert("topology.kubernetes.io/zone".into(), zone.into());
        hostname(n)
    }

    fn web(mut p: Pod) -> Pod {
        p.labels.insert("app".into(), "web".into());
        p
    }

    /// A web pod that must spread over `key` with `max_skew`.
    fn spreading(key: &str, max_skew: i64, min_domains: i64) -> Pod {
        let mut p = web(pod("new", None, 100, "1", 9));
        p.spread.push(pg_model::snapshot::SpreadConstraint {
            max_skew,
            topology_key: key.into(),
            selector: Some(LabelSelector {
                match_labels: [("app".to_string(), "web".to_string())].into(),
                ..Default::default()
            }),
            min_domains,
            honor_node_affinity: true,
            honor_node_taints: false,
        });
        p
    }

    const ZONE: &str = "topology.kubernetes.io/zone";

    #[test]
    fn spread_skew_is_fixed_by_preempting_matching_pods_only() {
        // Zone x holds two low-priority web pods and an unrelated one; zone y is full of a
        // higher-priority pod. A web pod with maxSkew 1 fits neither: on a the skew is
        // 2 + 1 - 0, on b the CPU is taken.
        let s = Snapshot::from_parts(
            vec![in_zone(node("a", "8"), "x"), in_zone(node("b", "1"), "y")],
            vec![
                web(pod("web1", Some("a"), 10, "1", 1)),
                web(pod("web2", Some("a"), 20, "1", 2)),
                pod("other", Some("a"), 5, "1", 3),
                pod("big", Some("b"), 1000, "1", 4),
            ],
            vec![],
        );
        let p = simulate(&s, &spreading(ZONE, 1, 1));
        assert_eq!(
            p.nodes[0].fit,
            Fit::Unschedulable("node(s) didn't match pod topology spread constraints".into())
        );
        // Both web pods must go (1 + 1 - 0 is still too much); the unrelated pod, lowest of
        // all, is reprieved.
        assert_eq!(p.nominated_node(), Some("a"));
        assert_eq!(names(&p), ["ns/web2", "ns/web1"]);
        // A looser skew fits as things stand.
        assert!(matches!(
            simulate(&s, &spreading(ZONE, 3, 1)).result,
            Outcome::Fits { nodes } if nodes == ["a"]
        ));
        // Web pods of another namespace do not count.
        let mut elsewhere = spreading(ZONE, 1, 1);
        elsewhere.namespace = "other".into();
        assert!(matches!(
            simulate(&s, &elsewhere).result,
            Outcome::Fits { .. }
        ));
        // Neither do nodes outside the pod's node affinity (nodeAffinityPolicy Honor): with
        // zone y out of the picture, zone x is the only domain and its own minimum.
        let mut only_x = spreading(ZONE, 1, 1);
        only_x.node_selector.insert(ZONE.into(), "x".into());
        assert!(matches!(simulate(&s, &only_x).result, Outcome::Fits { .. }));
        // A pod that does not match its own selector adds nothing: 2 + 0 - 0 > 1 still.
        let mut unlabelled = spreading(ZONE, 1, 1);
        unlabelled.labels.remove("app");
        assert_eq!(
            simulate(&s, &unlabelled).nominated_node(),
            Some("a"),
            "one web pod must still go"
        );
        assert_eq!(names(&simulate(&s, &unlabelled)), ["ns/web1"]);
    }

    #[test]
    fn spread_blocks_when_only_higher_priority_pods_skew_or_the_key_is_missing() {
        // The web pods in zone x outrank the pending pod; zone y's node has no room and its
        // pod outranks it too: nothing helps.
        let s = Snapshot::from_parts(
            vec![in_zone(node("a", "8"), "x"), in_zone(node("b", "1"), "y")],
            vec![
                web(pod("web1", Some("a"), 500, "1", 1)),
                web(pod("web2", Some("a"), 500, "1", 2)),
                pod("low", Some("a"), 5, "1", 3),
                pod("big", Some("b"), 1000, "1", 4),
            ],
            vec![],
        );
        assert!(matches!(
            simulate(&s, &spreading(ZONE, 1, 1)).result,
            Outcome::Pending { .. }
        ));
        // A node without the topology key is out, and no preemption can change that.
        let s = Snapshot::from_parts(vec![node("a", "8")], vec![], vec![]);
        let p = simulate(&s, &spreading(ZONE, 1, 1));
        assert!(
            matches!(&p.nodes[0].fit, Fit::Unresolvable(r) if r.contains("missing required label"))
        );
        assert!(matches!(p.result, Outcome::Pending { .. }));
    }

    #[test]
    fn min_domains_counts_missing_domains_as_empty() {
        // One web pod per node: with maxSkew 1 a third fits anywhere (1 + 1 - 1).
        let s = Snapshot::from_parts(
            vec![hostname(node("a", "8")), hostname(node("b", "8"))],
            vec![
                web(pod("web-a", Some("a"), 10, "1", 1)),
                web(pod("web-b", Some("b"), 20, "1", 2)),
            ],
            vec![],
        );
        let host = "kubernetes.io/hostname";
        assert!(matches!(
            simulate(&s, &spreading(host, 1, 1)).result,
            Outcome::Fits { .. }
        ));
        // minDomains 3 with two nodes: the minimum is 0, 1 + 1 - 0 > 1 everywhere, and the
        // web pod of lower priority goes.
        let p = simulate(&s, &spreading(host, 1, 3));
        assert_eq!(p.nominated_node(), Some("a"));
        assert_eq!(names(&p), ["ns/web-a"]);
    }

    #[test]
    fn a_taken_host_port_is_freed_by_preempting_its_holder_only() {
        // Plenty of CPU; the node-exporter-like pod holds 9100 on every address.
        let s = Snapshot::from_parts(
            vec![node("a", "8"), node("b", "8")],
            vec![
                with_port(
                    pod("exporter", Some("a"), 10, "1", 1),
                    "0.0.0.0",
                    "TCP",
                    9100,
                ),
                pod("other", Some("a"), 5, "1", 2),
                with_port(
                    pod("guard", Some("b"), 1000, "1", 3),
                    "10.0.0.2",
                    "TCP",
                    9100,
                ),
            ],
            vec![],
        );
        let agent = with_port(pod("agent", None, 100, "1", 9), "", "TCP", 9100);
        let agent = with_port(agent, "0.0.0.0", "TCP", 9100);
        let p = simulate(&s, &agent);
        assert!(matches!(&p.nodes[0].fit, Fit::Unschedulable(r) if r.contains("free ports")));
        // b's holder has a higher priority: only a is a candidate, and only the holder goes.
        assert_eq!(p.nominated_node(), Some("a"));
        assert_eq!(names(&p), ["ns/exporter"]);
        // Another protocol or another address does not conflict.
        let udp = with_port(pod("dns", None, 100, "1", 9), "0.0.0.0", "UDP", 9100);
        assert!(matches!(simulate(&s, &udp).result, Outcome::Fits { .. }));
        let s = Snapshot::from_parts(
            vec![node("b", "8")],
            vec![with_port(
                pod("guard", Some("b"), 1000, "1", 3),
                "10.0.0.2",
                "TCP",
                9100,
            )],
            vec![],
        );
        let other_ip = with_port(pod("x", None, 100, "1", 9), "10.0.0.3", "TCP", 9100);
        assert!(matches!(
            simulate(&s, &other_ip).result,
            Outcome::Fits { .. }
        ));
    }

    #[test]
    fn reprieves_highest_priority_first() {
        // 4 CPUs full: 1 CPU each at priorities 10, 20, 30, 40. A 2-CPU pod at 100 evicts the
        // two lowest.
        let s = Snapshot::from_parts(
            vec![node("a", "4")],
            vec![
                pod("p10", Some("a"), 10, "1", 1),
                pod("p20", Some("a"), 20, "1", 2),
                pod("p30", Some("a"), 30, "1", 3),
                pod("p40", Some("a"), 40, "1", 4),
            ],
            vec![],
        );
        let p = simulate(&s, &pod("new", None, 100, "2", 9));
        assert_eq!(p.nominated_node(), Some("a"));
        assert_eq!(names(&p), ["ns/p20", "ns/p10"]);
        // Equal priorities: the older pod is more important and is reprieved first.
        let s = Snapshot::from_parts(
            vec![node("a", "2")],
            vec![
                pod("young", Some("a"), 10, "1", 5),
                pod("old", Some("a"), 10, "1", 1),
            ],
            vec![],
        );
        assert_eq!(
            names(&simulate(&s, &pod("new", None, 100, "1", 9))),
            ["ns/young"]
        );
    }

    #[test]
    fn pdb_violating_pods_are_reprieved_first() {
        let mut s = Snapshot::from_parts(
            vec![node("a", "2")],
            vec![
                pod("guarded", Some("a"), 10, "1", 1),
                pod("free", Some("a"), 20, "1", 2),
            ],
            vec![],
        );
        s.pdbs.push(Pdb {
            namespace: "ns".into(),
            name: "b".into(),
            selector: Some(LabelSelector {
                match_labels: [("app".to_string(), "guarded".to_string())].into(),
                ..Default::default()
            }),
            disruptions_allowed: 0,
            from_status: true,
            ..Default::default()
        });
        // Without the budget the lower-priority "guarded" would go; with it, "free" does.
        let p = simulate(&s, &pod("new", None, 100, "1", 9));
        assert_eq!(names(&p), ["ns/free"]);
        assert!(matches!(
            p.result,
            Outcome::Preempts {
                pdb_violations: 0,
                ..
            }
        ));
    }

    fn guarding(app: &str, disruptions_allowed: i64) -> Pdb {
        Pdb {
            namespace: "ns".into(),
            name: app.into(),
            selector: Some(LabelSelector {
                match_labels: [("app".to_string(), app.to_string())].into(),
                ..Default::default()
            }),
            disruptions_allowed,
            from_status: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_budget_with_one_disruption_allowed_is_not_violated_by_one_victim() {
        // filterPodsWithPDBViolation: a pod violates only when its budget goes below zero
        // (`pdbsAllowed[i] < 0`); disruptionsAllowed 1 absorbs one victim, so the lower-priority
        // pod goes as it would without a budget.
        let s = Snapshot::from_parts(
            vec![node("a", "2")],
            vec![
                pod("guarded", Some("a"), 10, "1", 1),
                pod("free", Some("a"), 20, "1", 2),
            ],
            vec![guarding("guarded", 1)],
        );
        let p = simulate(&s, &pod("new", None, 100, "1", 9));
        assert_eq!(names(&p), ["ns/guarded"]);
        assert!(matches!(
            p.result,
            Outcome::Preempts {
                pdb_violations: 0,
                ..
            }
        ));
    }

    #[test]
    fn violating_and_other_victims_are_counted_and_sorted_by_importance() {
        // SelectVictimsOnNode: numViolatingVictim counts the violating pods that could not be
        // reprieved; with victims from both groups, they are sorted again by MoreImportantPod.
        let s = Snapshot::from_parts(
            vec![node("a", "2")],
            vec![
                pod("guarded", Some("a"), 10, "1", 1),
                pod("free", Some("a"), 20, "1", 2),
            ],
            vec![guarding("guarded", 0)],
        );
        let p = simulate(&s, &pod("new", None, 100, "2", 9));
        assert_eq!(names(&p), ["ns/free", "ns/guarded"]);
        assert_eq!(
            p.victims()
                .iter()
                .map(|v| v.violates_pdb)
                .collect::<Vec<_>>(),
            [false, true]
        );
        assert!(matches!(
            p.result,
            Outcome::Preempts {
                pdb_violations: 1,
                ..
            }
        ));
    }

    #[test]
    fn fewest_pdb_violations_comes_before_victim_priority() {
        // pickOneNodeForPreemption's first score: -NumPDBViolations. Node a's victim has the
        // lower priority but is guarded by a budget that allows no disruption.
        let s = Snapshot::from_parts(
            vec![node("a", "1"), node("b", "1")],
            vec![
                pod("guarded", Some("a"), 10, "1", 1),
                pod("b50", Some("b"), 50, "1", 2),
            ],
            vec![guarding("guarded", 0)],
        );
        let p = simulate(&s, &pod("new", None, 100, "1", 9));
        let Outcome::Preempts {
            node, decided_by, ..
        } = &p.result
        else {
            panic!("{:?}", p.result)
        };
        assert_eq!(node, "b");
        assert_eq!(decided_by.as_deref(), Some("fewest PDB violations"));
    }

    fn chosen(p: &Preemption) -> (&str, Option<&str>) {
        let Outcome::Preempts {
            node, decided_by, ..
        } = &p.result
        else {
            panic!("{:?}", p.result)
        };
        (node, decided_by.as_deref())
    }

    #[test]
    fn sum_of_priorities_offsets_each_victim_by_max_int32_plus_one() {
        // pickOneNodeForPreemption adds MaxInt32+1 to every victim's priority so that fewer
        // victims of the same negative priority make the smaller sum (down to MinInt32 + 1,
        // which adds 1). Node a would lose two pods, node b one, all of the same priority.
        for priority in [-1, i64::from(i32::MIN) + 1] {
            let s = Snapshot::from_parts(
                vec![node("a", "2"), node("b", "2")],
                vec![
                    pod("a1", Some("a"), priority, "1", 1),
                    pod("a2", Some("a"), priority, "1", 2),
                    pod("b1", Some("b"), priority, "2", 3),
                ],
                vec![],
            );
            let p = simulate(&s, &pod("new", None, 0, "2", 9));
            assert_eq!(
                chosen(&p),
                ("b", Some("smallest sum of victim priorities")),
                "priority {priority}"
            );
        }
    }

    #[test]
    fn fewest_victims_breaks_a_tie_of_sums() {
        // With the MaxInt32+1 offset, a victim at the lowest priority adds 0: node b's two
        // victims (0 and MinInt32) sum to node a's one (0), and the fewer victims win.
        let s = Snapshot::from_parts(
            vec![node("a", "2"), node("b", "2")],
            vec![
                pod("a0", Some("a"), 0, "2", 1),
                pod("b0", Some("b"), 0, "1", 2),
                pod("bmin", Some("b"), i64::from(i32::MIN), "1", 3),
            ],
            vec![],
        );
        let p = simulate(&s, &pod("new", None, 1, "2", 9));
        assert_eq!(chosen(&p), ("a", Some("fewest victims")));
    }

    #[test]
    fn pod_count_limit_is_preempted_for_and_counts_nominated_pods() {
        // NodeResourcesFit's `len(nodeInfo.Pods)+1 > allowedPodNumber` is Unschedulable: with
        // 2 pods allowed and 2 running, the lower-priority one goes.
        let mut a = node("a", "8");
        a.allocatable
            .insert("pods".into(), Quantity::parse("2").unwrap());
        let s = Snapshot::from_parts(
            vec![a.clone()],
            vec![
                pod("p10", Some("a"), 10, "1", 1),
                pod("p20", Some("a"), 20, "1", 2),
            ],
            vec![],
        );
        let p = simulate(&s, &pod("new", None, 100, "1", 9));
        assert_eq!(p.nodes[0].fit, Fit::Unschedulable("Too many pods".into()));
        assert_eq!(names(&p), ["ns/p10"]);
        // A nominated pod of higher priority takes a slot too (it is added to the node
        // before the filters run).
        let mut waiting = pod("waiting", None, 200, "1", 3);
        waiting.nominated_node_name = Some("a".into());
        let s = Snapshot::from_parts(
            vec![a],
            vec![pod("p10", Some("a"), 10, "1", 1), waiting],
            vec![],
        );
        let p = simulate(&s, &pod("new", None, 100, "1", 9));
        assert_eq!(p.nodes[0].fit, Fit::Unschedulable("Too many pods".into()));
        assert_eq!(names(&p), ["ns/p10"]);
    }

    #[test]
    fn nominated_pods_hold_their_host_ports_and_anti_affinity() {
        // addGEPriorityNominatedPods adds the nominated pods of equal or higher priority to the
        // node (NodePorts reads its used ports) and to InterPodAffinity's state (AddPod), in the
        // fit check and in SelectVictimsOnNode alike; they are not victims.
        let mut waiting = with_port(pod("waiting", None, 200, "1", 3), "0.0.0.0", "TCP", 9100);
        waiting.nominated_node_name = Some("a".into());
        waiting.labels.insert("role".into(), "agent".into());
        let s = Snapshot::from_parts(
            vec![hostname(node("a", "8"))],
            vec![waiting.clone()],
            vec![],
        );
        let agent = with_port(pod("agent", None, 100, "1", 9), "", "TCP", 9100);
        let p = simulate(&s, &agent);
        assert!(matches!(&p.nodes[0].fit, Fit::Unschedulable(r) if r.contains("free ports")));
        assert!(matches!(p.result, Outcome::Pending { .. }));
        let mut shy = pod("shy", None, 100, "1", 9);
        shy.anti_affinity.push(term("role", "agent"));
        let p = simulate(&s, &shy);
        assert!(matches!(&p.nodes[0].fit, Fit::Unschedulable(r) if r.contains("anti-affinity")));
        // On node a the low pod could go, but the nominated agent would still be there with its
        // port and label: only b, with a higher-priority victim, can help.
        let s = Snapshot::from_parts(
            vec![hostname(node("a", "2")), hostname(node("b", "1"))],
            vec![
                pod("low", Some("a"), 10, "1", 1),
                pod("mid", Some("b"), 50, "1", 2),
                waiting,
            ],
            vec![],
        );
        for pending in [&shy, &agent] {
            let p = simulate(&s, pending);
            assert_eq!(p.nominated_node(), Some("b"), "{}", p.pod);
            assert_eq!(names(&p), ["ns/mid"]);
        }
    }

    #[test]
    fn above_100_potential_nodes_the_choice_is_a_sample() {
        assert_eq!(Sampling::of(100), None);
        assert_eq!(
            Sampling::of(101),
            Some(Sampling {
                potential_nodes: 101,
                tried: 100
            })
        );
        assert_eq!(Sampling::of(2000).map(|s| s.tried), Some(200));
        let nodes: Vec<Node> = (0..150).map(|i| node(&format!("n{i:03}"), "1")).collect();
        let pods: Vec<Pod> = (0..150)
            .map(|i| {
                let n = format!("n{i:03}");
                pod(&format!("p{i}"), Some(&n), 10 + i, "1", 1)
            })
            .collect();
        let s = Snapshot::from_parts(nodes, pods, vec![]);
        let p = simulate(&s, &pod("new", None, 1000, "1", 9));
        let Outcome::Preempts { node, sampling, .. } = &p.result else {
            panic!("{:?}", p.result)
        };
        assert_eq!(
            node, "n000",
            "the lowest victim priority, if the scheduler tries it"
        );
        assert_eq!(
            sampling,
            &Some(Sampling {
                potential_nodes: 150,
                tried: 100
            })
        );
    }

    #[test]
    fn node_choice_criteria() {
        // Node a would lose a priority-50 pod, node b a priority-10 pod: b wins.
        let s = Snapshot::from_parts(
            vec![node("a", "1"), node("b", "1")],
            vec![
                pod("a50", Some("a"), 50, "1", 1),
                pod("b10", Some("b"), 10, "1", 2),
            ],
            vec![],
        );
        let p = simulate(&s, &pod("new", None, 100, "1", 9));
        let Outcome::Preempts {
            node: chosen,
            decided_by,
            candidates,
            ..
        } = &p.result
        else {
            panic!("{:?}", p.result)
        };
        assert_eq!(chosen, "b");
        assert_eq!(
            decided_by.as_deref(),
            Some("lowest highest-priority victim")
        );
        assert_eq!(candidates.len(), 2);
        // Same top priority: the smaller sum of priorities wins (one victim, not two).
        let s = Snapshot::from_parts(
            vec![node("a", "2"), node("b", "2")],
            vec![
                pod("a1", Some("a"), 10, "1", 1),
                pod("a2", Some("a"), 10, "1", 2),
                pod("b1", Some("b"), 10, "2", 3),
            ],
            vec![],
        );
        let p = simulate(&s, &pod("new", None, 100, "2", 9));
        assert_eq!(p.nominated_node(), Some("b"));
        // Everything equal but start times: the node whose top victim started last wins.
        let s = Snapshot::from_parts(
            vec![node("a", "1"), node("b", "1")],
            vec![
                pod("old", Some("a"), 10, "1", 1),
                pod("new-ish", Some("b"), 10, "1", 7),
            ],
            vec![],
        );
        let p = simulate(&s, &pod("new", None, 100, "1", 9));
        assert_eq!(p.nominated_node(), Some("b"));
    }

    #[test]
    fn never_and_hopeless_cases_stay_pending() {
        let s = Snapshot::from_parts(
            vec![node("a", "1")],
            vec![pod("x", Some("a"), 10, "1", 1)],
            vec![],
        );
        let mut never = pod("new", None, 100, "1", 9);
        never.preemption_never = true;
        assert!(matches!(
            simulate(&s, &never).result,
            Outcome::Pending { .. }
        ));
        // Equal priority is not lower: nothing to preempt.
        assert!(matches!(
            simulate(&s, &pod("new", None, 10, "1", 9)).result,
            Outcome::Pending { .. }
        ));
        // Bigger than the node: unresolvable.
        let p = simulate(&s, &pod("new", None, 100, "2", 9));
        assert!(matches!(p.nodes[0].fit, Fit::Unresolvable(_)));
        assert!(matches!(p.result, Outcome::Pending { .. }));
        // Room already: no preemption.
        assert!(matches!(
            simulate(&s, &pod("new", None, 100, "0", 9)).result,
            Outcome::Fits { .. }
        ));
    }
}
