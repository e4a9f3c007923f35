//! The kube-scheduler filters a pending pod must pass on a node, in the default profile's
//! order: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity (nodeSelector and required
//! node affinity), NodePorts (host ports), NodeResourcesFit (pod count, cpu, memory,
//! ephemeral-storage, extended resources), PodTopologySpread (`DoNotSchedule` constraints),
//! InterPodAffinity (required anti-affinity, the pending pod's and the running pods').
//! Required pod affinity and volumes are not modelled.
//!
//! The first failing filter decides whether preemption can help: a host port taken, resource
//! shortfalls, a topology spread skew too large and anti-affinity conflicts are
//! `Unschedulable` (removing pods may fix them) unless the request exceeds the node's whole
//! allocatable; everything else (a node without a spread constraint's topology key too) is
//! `UnschedulableAndUnresolvable`.

use crate::resources::{Requests, pod_requests};
use pg_model::snapshot::{Node, PODS, Pod, Snapshot, SpreadConstraint, untolerated};
use serde::Serialize;
use std::collections::BTreeMap;

/// `maxPods` when a node object does not say (the kubelet's default).
const DEFAULT_MAX_PODS: i64 = 110;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "kebab-case")]
pub enum Fit {
    Fits,
    /// Removing pods could make room.
    Unschedulable(String),
    /// No preemption on this node can help.
    Unresolvable(String),
}

impl Fit {
    pub fn fits(&self) -> bool {
        matches!(self, Fit::Fits)
    }
}

/// A node with the pods the scheduler counts on it and what they request.
#[derive(Clone, Debug)]
pub struct NodeLoad<'a> {
    pub node: &'a Node,
    pub pods: Vec<(&'a Pod, Requests)>,
}

impl<'a> NodeLoad<'a> {
    pub fn new(snapshot: &'a Snapshot, node: &'a Node) -> NodeLoad<'a> {
        NodeLoad {
            node,
            pods: snapshot
                .pods_on(&node.name)
                .map(|p| (p, Requests::of(&pod_requests(p))))
                .collect(),
        }
    }

    pub fn requested(&self) -> Requests {
        let mut total = Requests::default();
        for (_, r) in &self.pods {
            total.add(r);
        }
        total
    }
}

/// The filters other than resources: they do not change when pods leave the node.
pub fn static_filters(pod: &Pod, node: &Node) -> Fit {
    if node.unschedulable {
        let unschedulable_taint = pg_model::snapshot::Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            value: String::new(),
            effect: "NoSchedule".into(),
        };
        if !pod
            .tolerations
            .iter()
            .any(|t| t.tolerates(&unschedulable_taint))
        {
            return Fit::Unresolvable("node(s) were unschedulable".into());
        }
    }
    if pod.node_name.as_deref().is_some_and(|n| n != node.name) {
        return Fit::Unresolvable("node(s) didn't match the requested node name".into());
    }
    if let Some(t) = untolerated(&node.taints, &pod.tolerations) {
        let value = if t.value.is_empty() {
            String::new()
        } else {
            format!(": {}", t.value)
        };
        return Fit::Unresolvable(format!(
            "node(s) had untolerated taint {{{}{value}}}",
            t.key
        ));
    }
    if !node_affinity_matches(pod, node) {
        return Fit::Unresolvable("node(s) didn't match Pod's node affinity/selector".into());
    }
    Fit::Fits
}

/// `GetRequiredNodeAffinity(pod).Match(node)`: the node selector and required node affinity.
fn node_affinity_matches(pod: &Pod, node: &Node) -> bool {
    let selector_ok = pod
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    let affinity_ok = pod
        .affinity_terms
        .as_ref()
        .is_none_or(|terms| terms.iter().any(|t| t.matches(&node.name, &node.labels)));
    selector_ok && affinity_ok
}

const SPREAD_SKEW: &str = "node(s) didn't match pod topology spread constraints";

/// PodTopologySpread for one pending pod: its PreFilter state, the pods each `DoNotSchedule`
/// constraint selects per topology domain, counted once over the whole cluster; the filter
/// then checks a node's domain against the global minimum. Only nodes that carry every
/// constraint's topology key and pass the inclusion policies (the pod's node affinity unless
/// `nodeAffinityPolicy: Ignore`, its tolerations with `nodeTaintsPolicy: Honor`) make
/// domains; only pods in the pending pod's namespace that are not terminating count.
#[derive(Clone, Debug)]
pub struct Spread<'a> {
    pod: &'a Pod,
    /// Per constraint: domain -> matching pods.
    counts: Vec<BTreeMap<&'a str, i64>>,
}

impl<'a> Spread<'a> {
    /// `calPreFilterState` over every node and the pods on it.
    pub fn new(pod: &'a Pod, loads: &[NodeLoad<'a>]) -> Spread<'a> {
        let mut counts = vec![BTreeMap::new(); pod.spread.len()];
        for load in loads {
            if !has_topology_keys(pod, load.node) {
                continue;
            }
            for (c, domains) in pod.spread.iter().zip(&mut counts) {
                if !eligible(pod, c, load.node) {
                    continue;
                }
                let n = load
                    .pods
                    .iter()
                    .filter(|(p, _)| {
                        !p.terminating && p.namespace == pod.namespace && c.counts(&p.labels)
                    })
                    .count();
                *domains
                    .entry(load.node.labels[&c.topology_key].as_str())
                    .or_insert(0) += n as i64;
            }
        }
        Spread { pod, counts }
    }

    /// `updateWithPod` (the PreFilter extensions `AddPod`/`RemovePod`): how each constraint's
    /// count in `node`'s domain changes when `joined` are added to the node and `left` are
    /// removed from it.
    fn change<'p>(
        &self,
        node: &Node,
        joined: impl IntoIterator<Item = &'p Pod>,
        left: impl IntoIterator<Item = &'p Pod>,
    ) -> Vec<i64> {
        let mut change = vec![0; self.pod.spread.len()];
        if !has_topology_keys(self.pod, node) {
            return change;
        }
        let moves = joined
            .into_iter()
            .map(|p| (p, 1))
            .chain(left.into_iter().map(|p| (p, -1)));
        for (other, delta) in moves {
            if other.namespace != self.pod.namespace {
                continue;
            }
            for (c, slot) in self.pod.spread.iter().zip(&mut change) {
                if c.selects(&other.labels) && eligible(self.pod, c, node) {
                    *slot += delta;
                }
            }
        }
        change
    }

    /// The Filter on `node`, its domain's counts shifted by `change`: for every constraint,
    /// the domain's matching pods, plus one if the pending pod matches itself, minus the
    /// smallest count among the domains (0 when there are fewer than `minDomains`) may not
    /// exceed `maxSkew`.
    fn filter(&self, node: &Node, change: &[i64]) -> Fit {
        for ((c, domains), delta) in self.pod.spread.iter().zip(&self.counts).zip(change) {
            let Some(value) = node.labels.get(&c.topology_key) else {
                return Fit::Unresolvable(format!("{SPREAD_SKEW} (missing required label)"));
            };
            let own = domains.get(value.as_str()).map(|n| n + delta);
            let others = domains
                .iter()
                .filter(|(d, _)| **d != value.as_str())
                .map(|(_, n)| *n);
            let mut min = others.chain(own).min().unwrap_or(i64::from(i32::MAX));
            if (domains.len() as i64) < c.min_domains {
                min = 0;
            }
            let skew = own.unwrap_or(0) + i64::from(c.selects(&self.pod.labels)) - min;
            if skew > c.max_skew {
                return Fit::Unschedulable(SPREAD_SKEW.into());
            }
        }
        Fit::Fits
    }

    /// The filter as `RunFilterPluginsWithNominatedPods` runs it on `node` with `left`
    /// removed from it: with the `nominated` pods added and, if there are any and that
    /// passes, once more without them.
    pub fn fit(&self, node: &Node, nominated: &[&Pod], left: &[&Pod]) -> Fit {
        if self.pod.spread.is_empty() {
            return Fit::Fits;
        }
        let with = self.filter(
            node,
            &self.change(node, nominated.iter().copied(), left.iter().copied()),
        );
        if !with.fits() || nominated.is_empty() {
            return with;
        }
        self.filter(node, &self.change(node, [], left.iter().copied()))
    }
}

/// `nodeLabelsMatchSpreadConstraints`: the node has every constraint's topology key.
fn has_topology_keys(pod: &Pod, node: &Node) -> bool {
    pod.spread
        .iter()
        .all(|c| node.labels.contains_key(&c.topology_key))
}

/// `matchNodeInclusionPolicies`: whether `node`'s domain takes part in constraint `c`.
fn eligible(pod: &Pod, c: &SpreadConstraint, node: &Node) -> bool {
    (!c.honor_node_affinity || node_affinity_matches(pod, node))
        && (!c.honor_node_taints || untolerated(&node.taints, &pod.tolerations).is_none())
}

/// NodePorts: the pod's host ports against those of `others` on the node.
pub fn ports_fit<'a>(pod: &Pod, others: impl IntoIterator<Item = &'a Pod>) -> Fit {
    let want: Vec<_> = pod.host_ports().collect();
    if want.is_empty() {
        return Fit::Fits;
    }
    let taken = others
        .into_iter()
        .flat_map(|o| o.host_ports())
        .any(|used| want.iter().any(|w| w.conflicts(used)));
    if taken {
        Fit::Unschedulable("node(s) didn't have free ports for the requested pod ports".into())
    } else {
        Fit::Fits
    }
}

/// InterPodAffinity's anti-affinity checks for `pod` on `node`, with `others` the pods running
/// in the cluster and their nodes: no pod matching one of `pod`'s required anti-affinity
/// terms may run in the node's topology domain (nodes with the same value of the term's
/// topology key), and no pod there may have a term matching `pod`. A node without the key
/// is in no domain.
pub fn anti_affinity_fit<'a>(
    pod: &Pod,
    node: &Node,
    others: impl IntoIterator<Item = (&'a Pod, &'a Node)>,
) -> Fit {
    let same_domain = |key: &str, other: &Node| {
        node.labels
            .get(key)
            .is_some_and(|v| other.labels.get(key) == Some(v))
    };
    let mut existing = false;
    for (other, other_node) in others {
        if pod
            .anti_affinity
            .iter()
            .any(|t| same_domain(&t.topology_key, other_node) && t.matches(&pod.namespace, other))
        {
            return Fit::Unschedulable("node(s) didn't match pod anti-affinity rules".into());
        }
        existing |= other
            .anti_affinity
            .iter()
            .any(|t| same_domain(&t.topology_key, other_node) && t.matches(&other.namespace, pod));
    }
    if existing {
        Fit::Unschedulable("node(s) didn't satisfy existing pods anti-affinity rules".into())
    } else {
        Fit::Fits
    }
}

/// NodeResourcesFit's `fitsRequest`: `pods` pods already requesting `used` on `node`.
pub fn resources_fit(req: &Requests, node: &Node, used: &Requests, pods: usize) -> Fit {
    let alloc = Requests::of(&node.allocatable);
    let allowed_pods = node
        .allocatable
        .get(PODS)
        .map_or(DEFAULT_MAX_PODS, |q| q.value());
    let mut reasons = Vec::new();
    let mut unresolvable = false;
    if pods as i64 + 1 > allowed_pods {
        reasons.push("Too many pods".to_string());
    }
    if !req.is_zero() {
        let mut check = |name: &str, want: i64, have: i64, in_use: i64| {
            if want > 0 && want > have - in_use {
                reasons.push(format!("Insufficient {name}"));
                unresolvable |= want > have;
            }
        };
        check("cpu", req.cpu_millis, alloc.cpu_millis, used.cpu_millis);
        check("memory", req.memory, alloc.memory, used.memory);
        check(
            "ephemeral-storage",
            req.ephemeral_storage,
            alloc.ephemeral_storage,
            used.ephemeral_storage,
        );
        for (name, want) in &req.scalar {
            let have = alloc.scalar.get(name).copied().unwrap_or(0);
            let in_use = used.scalar.get(name).copied().unwrap_or(0);
            check(name, *want, have, in_use);
        }
    }
    match (reasons.is_empty(), unresolvable) {
        (true, _) => Fit::Fits,
        (false, false) => Fit::Unschedulable(reasons.join(", ")),
        (false, true) => Fit::Unresolvable(reasons.join(", ")),
    }
}

/// Pending pods nominated to `node` that the scheduler reserves room for when placing `pod`:
/// those of equal or higher priority (`RunFilterPluginsWithNominatedPods`).
pub fn nominated_pods<'a>(snapshot: &'a Snapshot, node: &str, pod: &Pod) -> Vec<&'a Pod> {
    snapshot
        .nominated_pods()
        .filter(|p| {
            p.nominated_node_name.as_deref() == Some(node)
                && p.priority >= pod.priority
                && p.key() != pod.key()
        })
        .collect()
}

/// What the [`nominated_pods`] request, and how many they are.
pub fn nominated_load(nominated: &[&Pod]) -> (Requests, usize) {
    let mut total = Requests::default();
    for p in nominated {
        total.add(&Requests::of(&pod_requests(p)));
    }
    (total, nominated.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_model::snapshot::{Container, LabelSelector, Quantity, Toleration};

    fn node(cpu: &str, mem: &str, pods: &str) -> Node {
        Node {
            name: "n".into(),
            allocatable: [("cpu", cpu), ("memory", mem), ("pods", pods)]
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap()))
                .collect(),
            ..Default::default()
        }
    }

    fn req(cpu: i64, mem: i64) -> Requests {
        Requests {
            cpu_millis: cpu,
            memory: mem,
            ..Default::default()
        }
    }

    #[test]
    fn resource_fit_statuses() {
        let n = node("2", "4Gi", "3");
        assert_eq!(
            resources_fit(&req(1000, 1 << 30), &n, &req(1000, 0), 1),
            Fit::Fits
        );
        assert_eq!(
            resources_fit(&req(1500, 0), &n, &req(1000, 0), 1),
            Fit::Unschedulable("Insufficient cpu".into())
        );
        assert_eq!(
            resources_fit(&req(3000, 0), &n, &req(0, 0), 0),
            Fit::Unresolvable("Insufficient cpu".into()),
            "bigger than the node: preemption cannot help"
        );
        assert_eq!(
            resources_fit(&req(0, 0), &n, &req(0, 0), 3),
            Fit::Unschedulable("Too many pods".into())
        );
    }

    #[test]
    fn static_filter_statuses() {
        let mut n = node("2", "4Gi", "10");
        n.labels.insert("zone".into(), "a".into());
        let mut p = Pod::default();
        assert_eq!(static_filters(&p, &n), Fit::Fits);
        p.node_selector.insert("zone".into(), "b".into());
        assert!(matches!(static_filters(&p, &n), Fit::Unresolvable(_)));
        p.node_selector.clear();
        n.taints.push(pg_model::snapshot::Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: "NoSchedule".into(),
        });
        assert_eq!(
            static_filters(&p, &n),
            Fit::Unresolvable("node(s) had untolerated taint {dedicated: gpu}".into())
        );
    }

    #[test]
    fn exactly_full_node_fits() {
        // fitsRequest rejects only `len(Pods)+1 > allowedPodNumber` and `request > allocatable
        // - requested`: a pod that takes the last pod slot, millicore and byte fits.
        let n = node("2", "4Gi", "3");
        assert_eq!(
            resources_fit(&req(1000, 1 << 30), &n, &req(1000, 3 << 30), 2),
            Fit::Fits
        );
    }

    #[test]
    fn an_unrequested_resource_is_not_checked_on_an_overcommitted_node() {
        // fitsRequest checks a resource only when the pod requests more than 0 of it, so memory
        // already over allocatable does not stop a cpu-only pod.
        let n = node("2", "4Gi", "10");
        assert_eq!(
            resources_fit(&req(500, 0), &n, &req(0, 5 << 30), 1),
            Fit::Fits
        );
    }

    #[test]
    fn unschedulable_node_admits_only_pods_tolerating_its_taint() {
        // NodeUnschedulable: a cordoned node is UnschedulableAndUnresolvable unless the pod
        // tolerates {node.kubernetes.io/unschedulable, NoSchedule}.
        let mut n = node("2", "4Gi", "10");
        n.unschedulable = true;
        let mut p = Pod::default();
        assert_eq!(
            static_filters(&p, &n),
            Fit::Unresolvable("node(s) were unschedulable".into())
        );
        p.tolerations.push(Toleration {
            key: "node.kubernetes.io/unschedulable".into(),
            operator: "Exists".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        });
        assert_eq!(static_filters(&p, &n), Fit::Fits);
    }

    #[test]
    fn node_name_filter_accepts_only_the_named_node() {
        // NodeName: a pod with spec.nodeName fits that node only.
        let n = node("2", "4Gi", "10");
        let mut p = Pod {
            node_name: Some("n".into()),
            ..Default::default()
        };
        assert_eq!(static_filters(&p, &n), Fit::Fits);
        p.node_name = Some("m".into());
        assert_eq!(
            static_filters(&p, &n),
            Fit::Unresolvable("node(s) didn't match the requested node name".into())
        );
    }

    fn pod(name: &str, priority: i64, cpu: &str) -> Pod {
        Pod {
            namespace: "ns".into(),
            name: name.into(),
            priority,
            labels: [("app".to_string(), "web".to_string())].into(),
            containers: vec![Container {
                name: "c".into(),
                requests: [("cpu".to_string(), Quantity::parse(cpu).unwrap())].into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn nominated_to(mut p: Pod, node: &str) -> Pod {
        p.nominated_node_name = Some(node.into());
        p
    }

    fn keys(pods: &[&Pod]) -> Vec<String> {
        pods.iter().map(|p| p.key()).collect()
    }

    #[test]
    fn nominated_pods_of_equal_or_higher_priority_on_the_node_are_reserved() {
        // addGEPriorityNominatedPods: the pods nominated to this node with
        // `PodPriority(p) >= PodPriority(pod)` and another UID.
        let me = nominated_to(pod("me", 100, "1"), "n");
        let s = Snapshot::from_parts(
            vec![],
            vec![
                nominated_to(pod("equal", 100, "1"), "n"),
                nominated_to(pod("lower", 99, "1"), "n"),
                nominated_to(pod("elsewhere", 200, "1"), "m"),
                nominated_to(pod("higher", 200, "2"), "n"),
                me.clone(),
            ],
            vec![],
        );
        let nominated = nominated_pods(&s, "n", &me);
        assert_eq!(keys(&nominated), ["ns/equal", "ns/higher"]);
        // They take room and a pod slot each.
        assert_eq!(nominated_load(&nominated), (req(3000, 0), 2));
        assert_eq!(nominated_load(&[]), (Requests::default(), 0));
    }

    fn zone_node(name: &str, zone: &str) -> Node {
        let mut n = node("8", "8Gi", "110");
        n.name = name.into();
        n.labels.insert("zone".into(), zone.into());
        n
    }

    /// A web pod spreading over `zone` with maxSkew 1.
    fn spreading(honor_node_taints: bool) -> Pod {
        let mut p = pod("new", 100, "1");
        p.spread.push(SpreadConstraint {
            max_skew: 1,
            topology_key: "zone".into(),
            selector: Some(LabelSelector {
                match_labels: [("app".to_string(), "web".to_string())].into(),
                ..Default::default()
            }),
            min_domains: 1,
            honor_node_affinity: true,
            honor_node_taints,
        });
        p
    }

    #[test]
    fn spread_counts_nominated_pods_on_the_node() {
        // RunFilterPluginsWithNominatedPods: the filter runs with the nominated pods added
        // (PodTopologySpread's AddPod), and a failure then is final. Zone x would hold the
        // nominated web pod and the new one, zone y none: skew 2 > 1.
        let (a, b) = (zone_node("a", "x"), zone_node("b", "y"));
        let loads = [
            NodeLoad {
                node: &a,
                pods: vec![],
            },
            NodeLoad {
                node: &b,
                pods: vec![],
            },
        ];
        let p = spreading(false);
        let spread = Spread::new(&p, &loads);
        assert_eq!(spread.fit(&a, &[], &[]), Fit::Fits);
        let waiting = nominated_to(pod("waiting", 100, "1"), "a");
        assert_eq!(
            spread.fit(&a, &[&waiting], &[]),
            Fit::Unschedulable(SPREAD_SKEW.into())
        );
    }

    #[test]
    fn node_taints_policy_decides_whether_a_tainted_node_makes_a_domain() {
        // matchNodeInclusionPolicies: with nodeTaintsPolicy Honor a node whose NoSchedule taint
        // the pod does not tolerate is no domain; with Ignore (the default) it is. Zone x holds
        // one web pod, zone y's only node is tainted and empty.
        let a = zone_node("a", "x");
        let mut b = zone_node("b", "y");
        b.taints.push(pg_model::snapshot::Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: "NoSchedule".into(),
        });
        let running = pod("running", 10, "1");
        let loads = [
            NodeLoad {
                node: &a,
                pods: vec![(&running, req(1000, 0))],
            },
            NodeLoad {
                node: &b,
                pods: vec![],
            },
        ];
        // Ignore: the minimum is zone y's 0, and 1 + 1 - 0 > 1.
        let ignore = spreading(false);
        assert_eq!(
            Spread::new(&ignore, &loads).fit(&a, &[], &[]),
            Fit::Unschedulable(SPREAD_SKEW.into())
        );
        // Honor: zone x is the only domain, and 1 + 1 - 1 <= 1.
        let honor = spreading(true);
        assert_eq!(Spread::new(&honor, &loads).fit(&a, &[], &[]), Fit::Fits);
    }
}
