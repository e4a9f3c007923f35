//! Where each critical component's pods stand, before and after the fix: their place in their
//! node's eviction order and their OOM score. This is the one-line risk `audit` prints under a
//! critical finding when the input has nodes, e.g. "evicted 3rd of 41 under memory pressure on
//! node-a; immune after fix; oom_score_adj 994 -> -997".

use crate::eviction::{self, Assume, EvictionOrder, Pressure, UsageSource, place};
use crate::fixes;
use crate::oom::{ContainerKind, container_score_adj};
use pg_catalog::Catalog;
use pg_model::Finding;
use pg_model::snapshot::{Pod, Snapshot, Usage};
use serde::Serialize;
use std::collections::HashMap;

/// A pod's exposure on its node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "eviction", rename_all = "kebab-case")]
pub enum Placement {
    Immune,
    Ranked { rank: usize, tied: usize, of: usize },
}

impl Placement {
    /// Earlier eviction sorts first; immune pods last.
    pub fn cmp_key(&self) -> (usize, usize) {
        match self {
            Placement::Ranked { rank, .. } => (0, *rank),
            Placement::Immune => (1, 0),
        }
    }

    fn text(&self) -> String {
        match self {
            Placement::Immune => "immune".into(),
            Placement::Ranked { rank, tied, of } => {
                format!("evicted {} of {of}", place(*rank, *tied))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exposure {
    #[serde(flatten)]
    pub placement: Placement,
    /// Whether the pod's usage was measured (else assumed, see `Assume`).
    pub measured: bool,
    /// The highest among the pod's running containers (init containers have exited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Risk {
    pub pod: String,
    pub node: String,
    pub component: String,
    pub component_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    pub recommended_class: String,
    pub pressure: Pressure,
    pub before: Exposure,
    pub after: Exposure,
}

impl Risk {
    /// `evicted 3rd of 41 under memory pressure on node-a; immune after fix; oom_score_adj
    /// 994 -> -997`.
    pub fn line(&self) -> String {
        let mut line = match &self.before.placement {
            Placement::Immune => format!("immune to eviction on {}", self.node),
            p => format!(
                "{} under {} pressure on {}{}",
                p.text(),
                self.pressure.as_str(),
                self.node,
                if self.before.measured {
                    ""
                } else {
                    " (usage not measured)"
                }
            ),
        };
        if self.after.placement != self.before.placement {
            line.push_str(&format!("; {} after fix", self.after.placement.text()));
        }
        if let Some(b) = self.before.oom_score_adj {
            line.push_str(&format!("; oom_score_adj {b}"));
            if let Some(a) = self.after.oom_score_adj.filter(|a| *a != b) {
                line.push_str(&format!(" -> {a}"));
            }
        }
        line
    }
}

/// The worst-placed of several pods' risks (a DaemonSet's pods across nodes), with how many
/// there were.
pub fn worst<'a>(risks: impl IntoIterator<Item = &'a Risk>) -> Option<(&'a Risk, usize)> {
    let mut n = 0;
    let worst = risks
        .into_iter()
        .inspect(|_| n += 1)
        .min_by_key(|r| (r.before.placement.cmp_key(), r.pod.clone()))?;
    Some((worst, n))
}

/// Eviction orders computed once per node, for one snapshot.
struct Orders<'a> {
    snapshot: &'a Snapshot,
    usage: &'a Usage,
    assume: Assume,
    pressure: Pressure,
    by_node: HashMap<String, EvictionOrder>,
}

impl Orders<'_> {
    fn exposure(&mut self, pod: &Pod, node: &str) -> Option<Exposure> {
        let n = self.snapshot.node(node)?;
        let order = self.by_node.entry(node.to_string()).or_insert_with(|| {
            eviction::rank(self.snapshot, n, self.pressure, self.usage, self.assume)
        });
        let key = pod.key();
        let (placement, measured) = match order.position(&key) {
            Some(r) => (
                Placement::Ranked {
                    rank: r.rank,
                    tied: r.tied,
                    of: order.order.len(),
                },
                r.usage_source == UsageSource::Measured,
            ),
            None if order.is_immune(&key) => (Placement::Immune, true),
            None => return None,
        };
        let oom_score_adj = n.memory_capacity().and_then(|cap| {
            pod.containers
                .iter()
                .map(|c| container_score_adj(pod, c, ContainerKind::Container, cap))
                .max()
        });
        Some(Exposure {
            placement,
            measured,
            oom_score_adj,
        })
    }
}

/// Every running pod of a catalogued critical component, with its exposure before and after
/// the recommended classes are applied (`after` is the snapshot with fixes applied).
pub fn risks(
    before: &Snapshot,
    after: &Snapshot,
    catalog: &Catalog,
    usage: &Usage,
    assume: Assume,
    pressure: Pressure,
) -> Vec<Risk> {
    let mut orders_before = Orders {
        snapshot: before,
        usage,
        assume,
        pressure,
        by_node: HashMap::new(),
    };
    let mut orders_after = Orders {
        snapshot: after,
        by_node: HashMap::new(),
        ..orders_before
    };
    let mut out = Vec::new();
    for (i, pod) in before.pods.iter().enumerate() {
        let Some(node) = pod.node_name.as_deref() else {
            continue;
        };
        if pod.is_terminal() || pod.terminating {
            continue;
        }
        let Some(component) = fixes::component(catalog, pod) else {
            continue;
        };
        let (Some(b), Some(a)) = (
            orders_before.exposure(pod, node),
            orders_after.exposure(&after.pods[i], node),
        ) else {
            continue;
        };
        out.push(Risk {
            pod: pod.key(),
            node: node.to_string(),
            component: component.id,
            component_name: component.name,
            class: pod.priority_class_name.clone(),
            recommended_class: component.recommended_class,
            pressure,
            before: b,
            after: a,
        });
    }
    out
}

/// Memory is what the seed's outage was about, and what audit's risk line speaks of.
pub const AUDIT_PRESSURE: Pressure = Pressure::Memory;

/// Puts a risk line on each finding about a critical component whose pods run on a node of
/// `snapshot` (the most exposed pod's, when there are several), as `audit` prints it.
pub fn annotate(findings: &mut [Finding], snapshot: &Snapshot, catalog: &Catalog) {
    if !findings.iter().any(|f| f.component.is_some()) {
        return;
    }
    let (fixed, _) = fixes::apply(snapshot, catalog);
    let all = risks(
        snapshot,
        &fixed,
        catalog,
        &snapshot.usage,
        Assume::Requests,
        AUDIT_PRESSURE,
    );
    let by_pod: HashMap<&str, &Risk> = all.iter().map(|r| (r.pod.as_str(), r)).collect();
    for f in findings.iter_mut().filter(|f| f.component.is_some()) {
        let key = |namespace: &Option<String>, name: &str| {
            format!("{}/{name}", namespace.as_deref().unwrap_or("default"))
        };
        let own = (f.object.kind == "Pod").then(|| key(&f.object.namespace, &f.object.name));
        let pods: Vec<String> = f
            .pods
            .iter()
            .map(|p| key(&p.namespace, &p.name))
            .chain(own)
            .collect();
        f.risk =
            worst(pods.iter().filter_map(|p| by_pod.get(p.as_str()).copied())).map(|(w, n)| {
                let mut line = w.line();
                if n > 1 {
                    line.push_str(&format!(" (the most exposed of {n} pods)"));
                }
                line
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_model::snapshot::{Container, Node, Owner, PodUsage, Quantity, ResourceList};
    use pg_model::{CheckId, ComponentMatch, ObjectRef, PodRef, Severity};

    const MI: i64 = 1 << 20;

    fn list(pairs: &[(&str, &str)]) -> ResourceList {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap()))
            .collect()
    }

    fn container(name: &str, image: &str, req: &[(&str, &str)], lim: &[(&str, &str)]) -> Container {
        Container {
            name: name.into(),
            image: image.into(),
            requests: list(req),
            limits: list(lim),
            ..Default::default()
        }
    }

    fn pod(key: &str, node: &str, owner: (&str, &str), containers: Vec<Container>) -> Pod {
        let (namespace, name) = key.split_once('/').unwrap();
        Pod {
            namespace: namespace.into(),
            name: name.into(),
            node_name: Some(node.into()),
            owner: Some(Owner {
                kind: owner.0.into(),
                name: owner.1.into(),
            }),
            containers,
            ..Default::default()
        }
    }

    fn in_class(mut pod: Pod, class: &str, priority: i64) -> Pod {
        pod.priority_class_name = Some(class.into());
        pod.priority = priority;
        pod
    }

    /// A pod of upstream Multus's thick-plugin DaemonSet, without a class: Burstable (the init
    /// container only requests), 50Mi requested.
    fn multus(name: &str, node: &str) -> Pod {
        let image = "ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot-thick";
        let mut p = pod(
            &format!("kube-system/{name}"),
            node,
            ("DaemonSet", "kube-multus-ds"),
            vec![container(
                "kube-multus",
                image,
                &[("cpu", "100m"), ("memory", "50Mi")],
                &[("cpu", "100m"), ("memory", "50Mi")],
            )],
        );
        p.init_containers = vec![container(
            "install-multus-binary",
            image,
            &[("cpu", "10m"), ("memory", "15Mi")],
            &[],
        )];
        p.host_network = true;
        p
    }

    /// node-a (8Gi) runs Multus, the AWS EBS CSI node plugin (installed without its class,
    /// using 300Mi by PodMetrics), CoreDNS, kube-proxy and two user pods; node-b, whose
    /// capacity the snapshot lacks, runs only Multus.
    fn cluster() -> Snapshot {
        let req = [("cpu", "10m"), ("memory", "40Mi")];
        let lim = [("memory", "256Mi")];
        let ebs = pod(
            "kube-system/ebs-csi-node-x8f2k",
            "node-a",
            ("DaemonSet", "ebs-csi-node"),
            vec![
                container(
                    "ebs-plugin",
                    "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.37.0",
                    &req,
                    &lim,
                ),
                container(
                    "node-driver-registrar",
                    "public.ecr.aws/eks-distro/kubernetes-csi/node-driver-registrar:v2.12.0",
                    &req,
                    &lim,
                ),
                container(
                    "liveness-probe",
                    "public.ecr.aws/eks-distro/kubernetes-csi/livenessprobe:v2.14.0",
                    &req,
                    &lim,
                ),
            ],
        );
        let coredns = in_class(
            pod(
                "kube-system/coredns-5d78c9869d-h4kzp",
                "node-a",
                ("ReplicaSet", "coredns-5d78c9869d"),
                vec![container(
                    "coredns",
                    "registry.k8s.io/coredns/coredns:v1.12.0",
                    &[("cpu", "100m"), ("memory", "70Mi")],
                    &[("memory", "170Mi")],
                )],
            ),
            "system-cluster-critical",
            2_000_000_000,
        );
        let mut kube_proxy = in_class(
            pod(
                "kube-system/kube-proxy-9tqwm",
                "node-a",
                ("DaemonSet", "kube-proxy"),
                vec![container(
                    "kube-proxy",
                    "registry.k8s.io/kube-proxy:v1.36.3",
                    &[],
                    &[],
                )],
            ),
            "system-node-critical",
            2_000_001_000,
        );
        kube_proxy.host_network = true;
        let web = pod(
            "shop/web-0",
            "node-a",
            ("StatefulSet", "web"),
            vec![container(
                "nginx",
                "nginx:1.27",
                &[("cpu", "250m"), ("memory", "256Mi")],
                &[],
            )],
        );
        let report = pod(
            "batch/report-28311",
            "node-a",
            ("Job", "report-28311"),
            vec![container("report", "busybox:1.37", &[], &[])],
        );
        let node_a = Node {
            name: "node-a".into(),
            capacity: list(&[("cpu", "4"), ("memory", "8Gi")]),
            ..Default::default()
        };
        let node_b = Node {
            name: "node-b".into(),
            ..Default::default()
        };
        let mut s = Snapshot::from_parts(
            vec![node_a, node_b],
            vec![
                multus("kube-multus-ds-7xk2p", "node-a"),
                ebs,
                coredns,
                kube_proxy,
                web,
                report,
                multus("kube-multus-ds-q9w4z", "node-b"),
            ],
            vec![],
        );
        s.usage.pods.insert(
            "kube-system/ebs-csi-node-x8f2k".into(),
            PodUsage {
                memory: Some(300 * MI),
                ..Default::default()
            },
        );
        s
    }

    /// The kubelet (pg-kubelet-harness, with usage = request where none is measured) evicts on
    /// node-a: the EBS plugin (180Mi over its request), the report job (BestEffort), then Multus
    /// and the web server in either order; never CoreDNS or kube-proxy. Its oom_score_adj on 8Gi:
    /// Multus 994, EBS 996, CoreDNS 992, kube-proxy -997, and -997 for either in
    /// system-node-critical.
    #[test]
    fn critical_pods_before_and_after_the_fix() {
        let catalog = Catalog::builtin();
        let before = cluster();
        let (after, _) = fixes::apply(&before, &catalog);
        let risks = risks(
            &before,
            &after,
            &catalog,
            &before.usage,
            Assume::Requests,
            Pressure::Memory,
        );
        let lines: Vec<_> = risks
            .iter()
            .map(|r| (r.pod.as_str(), r.component.as_str(), r.line()))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    "kube-system/kube-multus-ds-7xk2p",
                    "multus",
                    "evicted 3rd-4th of 4 under memory pressure on node-a (usage not measured); \
                     immune after fix; oom_score_adj 994 -> -997"
                        .to_string()
                ),
                (
                    "kube-system/ebs-csi-node-x8f2k",
                    "csi-node-plugin",
                    "evicted 1st of 4 under memory pressure on node-a; immune after fix; \
                     oom_score_adj 996 -> -997"
                        .to_string()
                ),
                (
                    "kube-system/coredns-5d78c9869d-h4kzp",
                    "coredns",
                    "immune to eviction on node-a; oom_score_adj 992".to_string()
                ),
                (
                    "kube-system/kube-proxy-9tqwm",
                    "kube-proxy",
                    "immune to eviction on node-a; oom_score_adj -997".to_string()
                ),
                (
                    "kube-system/kube-multus-ds-q9w4z",
                    "multus",
                    "evicted 1st of 1 under memory pressure on node-b (usage not measured); \
                     immune after fix"
                        .to_string()
                ),
            ],
            "user pods are no components"
        );
        let ebs = &risks[1];
        assert_eq!(
            ebs.before,
            Exposure {
                placement: Placement::Ranked {
                    rank: 1,
                    tied: 1,
                    of: 4
                },
                measured: true,
                oom_score_adj: Some(996),
            }
        );
        assert_eq!(
            ebs.after,
            Exposure {
                placement: Placement::Immune,
                measured: true,
                oom_score_adj: Some(-997),
            }
        );
        assert_eq!(
            (ebs.class.as_deref(), ebs.recommended_class.as_str()),
            (None, "system-node-critical")
        );
        let coredns = &risks[2];
        assert_eq!(
            (coredns.class.as_deref(), coredns.recommended_class.as_str()),
            (Some("system-cluster-critical"), "system-cluster-critical")
        );
        assert_eq!(coredns.after, coredns.before, "nothing to fix");
    }

    #[test]
    fn earlier_eviction_is_more_exposed_and_immune_pods_least() {
        let ranked = |rank| Placement::Ranked {
            rank,
            tied: 1,
            of: 41,
        };
        assert!(ranked(1).cmp_key() < ranked(3).cmp_key());
        assert!(ranked(41).cmp_key() < Placement::Immune.cmp_key());
    }

    fn finding(kind: &str, key: &str, component: Option<ComponentMatch>, pods: &[&str]) -> Finding {
        let (namespace, name) = key.split_once('/').unwrap();
        Finding {
            check: if component.is_some() {
                CheckId::CriticalWithoutPriority
            } else {
                CheckId::NoPriority
            },
            severity: Severity::Error,
            message: String::new(),
            object: ObjectRef {
                kind: kind.into(),
                namespace: Some(namespace.into()),
                name: name.into(),
            },
            object_inferred: false,
            location: None,
            component,
            current_class: None,
            recommended_class: None,
            pods: pods
                .iter()
                .map(|p| {
                    let (namespace, name) = p.split_once('/').unwrap();
                    PodRef {
                        namespace: Some(namespace.into()),
                        name: name.into(),
                        location: None,
                    }
                })
                .collect(),
            risk: None,
            cluster: None,
            managed_by: None,
        }
    }

    #[test]
    fn audit_findings_get_their_most_exposed_pods_line() {
        let catalog = Catalog::builtin();
        let snapshot = cluster();
        let component = |i: usize| fixes::component(&catalog, &snapshot.pods[i]);
        let mut findings = [
            // A DaemonSet's pods across nodes: node-b's is evicted first there.
            finding(
                "DaemonSet",
                "kube-system/kube-multus-ds",
                component(0),
                &[
                    "kube-system/kube-multus-ds-7xk2p",
                    "kube-system/kube-multus-ds-q9w4z",
                ],
            ),
            // A pod audited from a pod list is its own one pod.
            finding("Pod", "kube-system/ebs-csi-node-x8f2k", component(1), &[]),
            finding("StatefulSet", "shop/web", None, &["shop/web-0"]),
        ];
        annotate(&mut findings, &snapshot, &catalog);
        let risks: Vec<_> = findings.iter().map(|f| f.risk.as_deref()).collect();
        assert_eq!(
            risks,
            [
                Some(
                    "evicted 1st of 1 under memory pressure on node-b (usage not measured); \
                     immune after fix (the most exposed of 2 pods)"
                ),
                Some(
                    "evicted 1st of 4 under memory pressure on node-a; immune after fix; \
                     oom_score_adj 996 -> -997"
                ),
                None,
            ]
        );
    }
}
