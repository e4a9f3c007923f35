//! One simulation run: the views asked for, each before and (with fixes) after, in the shape
//! `-o json` prints.

use crate::SimulateError;
use crate::eviction::{self, Assume, EvictionOrder, Pressure};
use crate::fixes::{self, Fix};
use crate::oom::{self, OomTable};
use crate::preemption::{self, Preemption};
use crate::risk::{self, Risk};
use pg_catalog::Catalog;
use pg_model::snapshot::{Pod, Snapshot, Usage};
use serde::Serialize;
use std::collections::BTreeMap;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Options {
    /// Eviction and OOM views for this node; without it, a summary of every critical pod.
    pub node: Option<String>,
    pub pressure: Pressure,
    pub assume: Assume,
    /// A pod that wants to be scheduled: where would it go, whom would it preempt?
    pub pending: Option<Pod>,
    pub with_fixes: bool,
}

/// A view as things are and, with `--with-fixes`, after the recommended classes.
#[derive(Clone, Debug, Serialize)]
pub struct Side<T> {
    pub before: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<T>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub nodes: usize,
    pub pods: usize,
    /// User-defined classes (the two built-in ones always exist).
    pub priority_classes: usize,
    pub pod_disruption_budgets: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_source: Option<String>,
    pub pods_with_measured_usage: usize,
    pub assume: Assume,
}

#[derive(Clone, Debug, Serialize)]
pub struct Simulation {
    pub summary: Summary,
    /// Pods of catalogued critical components (`namespace/name` -> component name): the
    /// ones the views highlight.
    pub critical_pods: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixes: Option<Vec<Fix>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eviction: Option<Side<EvictionOrder>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom: Option<Side<OomTable>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemption: Option<Side<Preemption>>,
    /// Without `--node`: every critical pod's exposure, most exposed first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<Risk>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Runs the views `opts` asks for on `snapshot`; `usage` is every measured number (the
/// snapshot's own PodMetrics merged with `--usage` files).
pub fn simulate(
    snapshot: &Snapshot,
    catalog: &Catalog,
    usage: &Usage,
    opts: &Options,
) -> Result<Simulation, SimulateError> {
    let node = match &opts.node {
        Some(name) => Some(snapshot.node(name).ok_or_else(|| {
            let known: Vec<&str> = snapshot.nodes.iter().map(|n| n.name.as_str()).collect();
            SimulateError::Invalid(format!(
                "node {name} is not in the snapshot (nodes: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?),
        None => None,
    };
    let (fixed, fixes) = fixes::apply(snapshot, catalog);
    let after = opts.with_fixes.then_some(&fixed);
    let critical_pods = snapshot
        .pods
        .iter()
        .filter(|p| !p.is_terminal())
        .filter_map(|p| Some((p.key(), fixes::component(catalog, p)?.name)))
        .collect();
    let eviction = node.map(|n| Side {
        before: eviction::rank(snapshot, n, opts.pressure, usage, opts.assume),
        after: after.map(|s| eviction::rank(s, n, opts.pressure, usage, opts.assume)),
    });
    let oom = node.and_then(|n| {
        Some(Side {
            before: oom::node_scores(snapshot, n)?,
            after: after.and_then(|s| oom::node_scores(s, n)),
        })
    });
    let preemption = opts.pending.as_ref().map(|pod| Side {
        before: preemption::simulate(snapshot, pod),
        after: after.map(|s| {
            let mut fixed_pod = pod.clone();
            fixes::fix_pod(snapshot, catalog, &mut fixed_pod);
            preemption::simulate(s, &fixed_pod)
        }),
    });
    let mut risks = if node.is_none() && opts.pending.is_none() {
        risk::risks(snapshot, &fixed, catalog, usage, opts.assume, opts.pressure)
    } else {
        Vec::new()
    };
    risks.sort_by(|a, b| {
        a.before
            .placement
            .cmp_key()
            .cmp(&b.before.placement.cmp_key())
            .then_with(|| a.pod.cmp(&b.pod))
    });
    let measured = snapshot
        .pods
        .iter()
        .filter(|p| usage.get(&p.key()).is_some())
        .count();
    Ok(Simulation {
        summary: Summary {
            nodes: snapshot.nodes.len(),
            pods: snapshot.pods.len(),
            priority_classes: snapshot.classes.len() - pg_model::BUILTIN_CLASSES.len(),
            pod_disruption_budgets: snapshot.pdbs.len(),
            usage_source: usage.source.clone(),
            pods_with_measured_usage: measured,
            assume: opts.assume,
        },
        critical_pods,
        fixes: opts.with_fixes.then_some(fixes),
        eviction,
        oom,
        preemption,
        risks,
        warnings: snapshot.warnings.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_model::snapshot::{Container, Node, Owner, Quantity, ResourceList};

    fn list(pairs: &[(&str, &str)]) -> ResourceList {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap()))
            .collect()
    }

    fn pod(key: &str, owner: (&str, &str), image: &str, req: &[(&str, &str)]) -> Pod {
        let (namespace, name) = key.split_once('/').unwrap();
        Pod {
            namespace: namespace.into(),
            name: name.into(),
            node_name: Some("node-a".into()),
            owner: Some(Owner {
                kind: owner.0.into(),
                name: owner.1.into(),
            }),
            containers: vec![Container {
                name: "main".into(),
                image: image.into(),
                requests: list(req),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// One 8Gi node with CoreDNS, a Multus pod, the Multus pod the kubelet evicted before it
    /// (Failed, kept by the API) and a web server; only the two built-in classes.
    fn cluster() -> Snapshot {
        let multus = |name: &str| {
            pod(
                &format!("kube-system/{name}"),
                ("DaemonSet", "kube-multus-ds"),
                "ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot-thick",
                &[("cpu", "100m"), ("memory", "50Mi")],
            )
        };
        let coredns = Pod {
            priority_class_name: Some("system-cluster-critical".into()),
            priority: 2_000_000_000,
            ..pod(
                "kube-system/coredns-5d78c9869d-h4kzp",
                ("ReplicaSet", "coredns-5d78c9869d"),
                "registry.k8s.io/coredns/coredns:v1.12.0",
                &[("cpu", "100m"), ("memory", "70Mi")],
            )
        };
        let evicted = Pod {
            phase: Some("Failed".into()),
            ..multus("kube-multus-ds-zx8vb")
        };
        let web = pod(
            "shop/web-0",
            ("StatefulSet", "web"),
            "nginx:1.27",
            &[("cpu", "250m"), ("memory", "256Mi")],
        );
        let node = Node {
            name: "node-a".into(),
            capacity: list(&[("cpu", "4"), ("memory", "8Gi")]),
            ..Default::default()
        };
        Snapshot::from_parts(
            vec![node],
            vec![coredns, multus("kube-multus-ds-7xk2p"), evicted, web],
            vec![],
        )
    }

    fn options(node: Option<&str>) -> Options {
        Options {
            node: node.map(str::to_string),
            pressure: Pressure::Memory,
            assume: Assume::Requests,
            pending: None,
            with_fixes: false,
        }
    }

    #[test]
    fn without_a_node_every_running_critical_pod_most_exposed_first() {
        let snapshot = cluster();
        let sim = simulate(
            &snapshot,
            &Catalog::builtin(),
            &Usage::default(),
            &options(None),
        )
        .unwrap();
        assert_eq!(
            sim.critical_pods,
            [
                (
                    "kube-system/coredns-5d78c9869d-h4kzp".into(),
                    "CoreDNS".into()
                ),
                (
                    "kube-system/kube-multus-ds-7xk2p".into(),
                    "Multus CNI".into()
                ),
            ]
            .into(),
            "the evicted pod is gone"
        );
        let risks: Vec<_> = sim.risks.iter().map(|r| r.line()).collect();
        assert_eq!(
            risks,
            [
                "evicted 1st-2nd of 2 under memory pressure on node-a (usage not measured); \
                 immune after fix; oom_score_adj 994 -> -997",
                "immune to eviction on node-a; oom_score_adj 992",
            ]
        );
        let s = &sim.summary;
        assert_eq!((s.nodes, s.pods, s.pod_disruption_budgets), (1, 4, 0));
        assert_eq!(
            s.priority_classes, 0,
            "the built-in classes are not counted"
        );
        assert!(sim.eviction.is_none() && sim.oom.is_none() && sim.fixes.is_none());
    }

    #[test]
    fn a_node_gets_its_views_and_no_risk_summary() {
        let snapshot = cluster();
        let sim = simulate(
            &snapshot,
            &Catalog::builtin(),
            &Usage::default(),
            &options(Some("node-a")),
        )
        .unwrap();
        assert!(sim.risks.is_empty());
        let eviction = sim.eviction.unwrap();
        let order: Vec<_> = eviction
            .before
            .order
            .iter()
            .map(|r| r.pod.as_str())
            .collect();
        assert_eq!(order, ["kube-system/kube-multus-ds-7xk2p", "shop/web-0"]);
        assert!(eviction.after.is_none(), "not asked for fixes");
        assert_eq!(sim.oom.unwrap().before.containers.len(), 3);
    }
}
