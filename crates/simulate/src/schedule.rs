//! The kube-scheduler filters a pending pod must pass on a node, in the default profile's
//! order: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity (nodeSelector and required
//! node affinity), NodePorts (host ports), NodeResourcesFit (pod count, cpu, memory,
//! ephemeral-storage, extended resources), InterPodAffinity (required anti-affinity, the
//! pending pod's and the running pods'). Required pod affinity, topology spread and volumes
//! are not modelled.
//!
//! The first failing filter decides whether preemption can help: a host port taken, resource
//! shortfalls and anti-affinity conflicts are `Unschedulable` (removing pods may fix them)
//! unless the request exceeds the node's whole allocatable; everything else is
//! `UnschedulableAndUnresolvable`.

use crate::model::{Node, PODS, Pod};
use crate::resources::{Requests, pod_requests};
use crate::selector::untolerated;
use crate::snapshot::Snapshot;
use serde::Serialize;

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
        let unschedulable_taint = crate::selector::Taint {
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
    let selector_ok = pod
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    let affinity_ok = pod
        .affinity_terms
        .as_ref()
        .is_none_or(|terms| terms.iter().any(|t| t.matches(&node.name, &node.labels)));
    if !(selector_ok && affinity_ok) {
        return Fit::Unresolvable("node(s) didn't match Pod's node affinity/selector".into());
    }
    Fit::Fits
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
pub fn nominated_load(snapshot: &Snapshot, node: &str, pod: &Pod) -> (Requests, usize) {
    let mut total = Requests::default();
    let mut count = 0;
    for p in snapshot.nominated_pods() {
        if p.nominated_node_name.as_deref() == Some(node)
            && p.priority >= pod.priority
            && p.key() != pod.key()
        {
            total.add(&Requests::of(&pod_requests(p)));
            count += 1;
        }
    }
    (total, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantity::Quantity;

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
        n.taints.push(crate::selector::Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: "NoSchedule".into(),
        });
        assert_eq!(
            static_filters(&p, &n),
            Fit::Unresolvable("node(s) had untolerated taint {dedicated: gpu}".into())
        );
    }
}
