//! The kubelet's `oom_score_adj` per container (`pkg/kubelet/qos/policy.go`,
//! `GetContainerOOMScoreAdjust`). The kernel kills the process with the highest
//! `oom_score` = (share of memory in use, 0..1000) + `oom_score_adj` first.
//!
//! Only `system-node-critical` pods (and Guaranteed pods) get -997; `system-cluster-critical`
//! gives no OOM protection at all: a Burstable CoreDNS pod sits near 1000 like any other.

use crate::resources::{Qos, pod_level_requests_set, qos};
use pg_model::snapshot::{Container, MEMORY, Node, Pod, Snapshot};
use serde::Serialize;

const GUARANTEED_OOM_SCORE_ADJ: i64 = -997;
const BESTEFFORT_OOM_SCORE_ADJ: i64 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContainerKind {
    Container,
    /// A regular init container: it has exited by the time the pod runs.
    Init,
    Sidecar,
}

fn memory_request(c: &Container) -> i64 {
    c.requests.get(MEMORY).map_or(0, |q| q.value())
}

/// `remainingPodMemReqPerContainer`: pod-level memory request not claimed by containers,
/// shared equally among all containers.
fn remaining_pod_memory_per_container(pod: &Pod) -> i64 {
    let Some(pod_req) = pod.pod_requests.get(MEMORY).filter(|q| !q.is_zero()) else {
        return 0;
    };
    let aggregate: i64 = crate::resources::pod_requests(&Pod {
        pod_requests: Default::default(),
        overhead: Default::default(),
        ..pod.clone()
    })
    .get(MEMORY)
    .map_or(0, |q| q.value());
    let n = (pod.containers.len() + pod.init_containers.len()) as i64;
    pod_req.value().wrapping_sub(aggregate) / n.max(1)
}

/// `1000 - 1000*(request + remaining)/capacity` in Go's int64 arithmetic, which wraps: a
/// request above ~8Pi overflows `1000*request`, and the kubelet uses the wrapped value.
fn burstable_formula(request: i64, remaining: i64, capacity: i64) -> i64 {
    1000i64.wrapping_sub(1000i64.wrapping_mul(request.wrapping_add(remaining)) / capacity)
}

/// `GetContainerOOMScoreAdjust(pod, container, memoryCapacity)`, with Go's integer arithmetic.
pub fn container_score_adj(pod: &Pod, c: &Container, kind: ContainerKind, capacity: i64) -> i64 {
    if pod.is_node_critical() {
        return GUARANTEED_OOM_SCORE_ADJ;
    }
    match qos(pod) {
        Qos::Guaranteed => return GUARANTEED_OOM_SCORE_ADJ,
        Qos::BestEffort => return BESTEFFORT_OOM_SCORE_ADJ,
        Qos::Burstable => {}
    }
    let remaining = if pod_level_requests_set(pod) {
        remaining_pod_memory_per_container(pod)
    } else {
        0
    };
    let mut adj = burstable_formula(memory_request(c), remaining, capacity);
    if kind == ContainerKind::Sidecar {
        // A sidecar never scores above the smallest regular container, so it is not killed
        // before the containers it serves.
        let min_regular = pod.containers.iter().map(memory_request).min().unwrap_or(0);
        adj = adj.min(burstable_formula(min_regular, remaining, capacity));
    }
    // Burstable stays above Guaranteed (3) and below BestEffort (999).
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ {
        return 1000 + GUARANTEED_OOM_SCORE_ADJ;
    }
    if adj == BESTEFFORT_OOM_SCORE_ADJ {
        return adj - 1;
    }
    adj
}

/// Why a container got its score, in a few words.
fn reason(pod: &Pod) -> &'static str {
    if pod.is_node_critical() {
        "system-node-critical"
    } else {
        match qos(pod) {
            Qos::Guaranteed => "Guaranteed",
            Qos::BestEffort => "BestEffort",
            Qos::Burstable => "1000 - 1000*request/capacity",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ContainerScore {
    pub pod: String,
    pub container: String,
    pub kind: ContainerKind,
    pub qos: Qos,
    pub memory_request: i64,
    pub oom_score_adj: i64,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct OomTable {
    pub node: String,
    pub memory_capacity: i64,
    /// Highest `oom_score_adj` first: the order the kernel favours for killing at equal use.
    pub containers: Vec<ContainerScore>,
}

/// Scores for every container of the pods running on `node`, or `None` when the node's
/// memory capacity is unknown.
pub fn node_scores(snapshot: &Snapshot, node: &Node) -> Option<OomTable> {
    let capacity = node.memory_capacity()?;
    let mut containers = Vec::new();
    for pod in snapshot.pods_on(&node.name) {
        let all = pod
            .containers
            .iter()
            .map(|c| (c, ContainerKind::Container))
            .chain(pod.init_containers.iter().map(|c| {
                let kind = if c.sidecar {
                    ContainerKind::Sidecar
                } else {
                    ContainerKind::Init
                };
                (c, kind)
            }));
        for (c, kind) in all {
            containers.push(ContainerScore {
                pod: pod.key(),
                container: c.name.clone(),
                kind,
                qos: qos(pod),
                memory_request: memory_request(c),
                oom_score_adj: container_score_adj(pod, c, kind, capacity),
                reason: reason(pod),
            });
        }
    }
    containers.sort_by(|a, b| {
        b.oom_score_adj
            .cmp(&a.oom_score_adj)
            .then_with(|| a.pod.cmp(&b.pod))
            .then_with(|| a.container.cmp(&b.container))
    });
    Some(OomTable {
        node: node.name.clone(),
        memory_capacity: capacity,
        containers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_model::snapshot::Quantity;

    const GI: i64 = 1 << 30;

    fn container(req: Option<&str>, lim: Option<&str>) -> Container {
        let mut c = Container {
            name: "c".into(),
            ..Default::default()
        };
        if let Some(r) = req {
            c.requests
                .insert(MEMORY.into(), Quantity::parse(r).unwrap());
            c.requests
                .insert("cpu".into(), Quantity::parse("100m").unwrap());
        }
        if let Some(l) = lim {
            c.limits.insert(MEMORY.into(), Quantity::parse(l).unwrap());
        }
        c
    }

    fn pod(c: Container, class: Option<&str>, priority: i64) -> Pod {
        Pod {
            containers: vec![c],
            priority_class_name: class.map(str::to_string),
            priority,
            ..Default::default()
        }
    }

    fn adj(p: &Pod) -> i64 {
        container_score_adj(p, &p.containers[0], ContainerKind::Container, 8 * GI)
    }

    #[test]
    fn burstable_formula_by_hand() {
        // 1000 - 1000 * 1Gi / 8Gi = 1000 - 125 = 875.
        assert_eq!(adj(&pod(container(Some("1Gi"), None), None, 0)), 875);
        // Upstream Multus on an 8Gi node: 1000 - 1000*50Mi/8Gi = 1000 - 6 (integer) = 994.
        let mut multus = container(Some("50Mi"), Some("50Mi"));
        multus
            .limits
            .insert("cpu".into(), Quantity::parse("100m").unwrap());
        let mut p = pod(multus, None, 0);
        p.init_containers = vec![container(Some("15Mi"), None)];
        assert_eq!(adj(&p), 994);
    }

    #[test]
    fn clamped_to_3_and_999() {
        // Requesting the whole node would give 0: clamped to 3 (above Guaranteed's -997).
        assert_eq!(adj(&pod(container(Some("8Gi"), None), None, 0)), 3);
        assert_eq!(adj(&pod(container(Some("7.99Gi"), None), None, 0)), 3);
        // A tiny request gives 1000 - 0 = 1000: clamped to 999 (below BestEffort's 1000).
        assert_eq!(adj(&pod(container(Some("1Mi"), None), None, 0)), 999);
        // 1000 - 1000*4Mi/8Gi = 1000 - 0.48 -> 1000 in integers -> 999.
        assert_eq!(adj(&pod(container(Some("4Mi"), None), None, 0)), 999);
        // 1000 - 1000*9Mi/8Gi = 1000 - 1.09 -> 999 (not clamped, just truncated).
        assert_eq!(adj(&pod(container(Some("9Mi"), None), None, 0)), 999);
        assert_eq!(adj(&pod(container(Some("10Mi"), None), None, 0)), 999);
        assert_eq!(adj(&pod(container(Some("17Mi"), None), None, 0)), 998);
    }

    #[test]
    fn a_nodes_table_is_highest_score_first_with_the_reason() {
        let on_node = |mut p: Pod, name: &str| {
            p.namespace = "ns".into();
            p.name = name.into();
            p.node_name = Some("n".into());
            p
        };
        let mut db = container(Some("1Gi"), Some("1Gi"));
        db.limits
            .insert("cpu".into(), Quantity::parse("100m").unwrap());
        let pods = vec![
            on_node(pod(db, None, 0), "db"),
            on_node(pod(container(None, None), None, 0), "batch"),
            on_node(pod(container(Some("1Gi"), None), None, 0), "web"),
            on_node(
                pod(
                    container(None, None),
                    Some("system-node-critical"),
                    2_000_001_000,
                ),
                "kube-proxy",
            ),
        ];
        let mut node = Node {
            name: "n".into(),
            ..Default::default()
        };
        let snapshot = Snapshot::from_parts(vec![node.clone()], pods, vec![]);
        assert!(
            node_scores(&snapshot, &node).is_none(),
            "no capacity, no table"
        );
        node.capacity
            .insert(MEMORY.into(), Quantity::parse("8Gi").unwrap());
        let table = node_scores(&snapshot, &node).unwrap();
        assert_eq!(table.memory_capacity, 8 * GI);
        let rows: Vec<_> = table
            .containers
            .iter()
            .map(|c| (c.pod.as_str(), c.oom_score_adj, c.reason))
            .collect();
        assert_eq!(
            rows,
            [
                ("ns/batch", 1000, "BestEffort"),
                ("ns/web", 875, "1000 - 1000*request/capacity"),
                ("ns/db", -997, "Guaranteed"),
                ("ns/kube-proxy", -997, "system-node-critical"),
            ]
        );
    }

    #[test]
    fn pod_level_requests_share_what_containers_leave_without_the_overhead() {
        // remainingPodMemReqPerContainer uses AggregateContainerRequests, which has no
        // overhead: (2Gi - 1Gi) / 1 container = 1Gi, so 1000 - 1000 * 2Gi / 8Gi = 750.
        // pg-kubelet-harness (the kubelet's GetContainerOOMScoreAdjust) gives 750 for this
        // pod with and without the 512Mi overhead.
        let mut p = pod(container(Some("1Gi"), None), None, 0);
        p.pod_requests
            .insert(MEMORY.into(), Quantity::parse("2Gi").unwrap());
        p.overhead
            .insert(MEMORY.into(), Quantity::parse("512Mi").unwrap());
        assert_eq!(adj(&p), 750);
    }

    #[test]
    fn huge_requests_wrap_as_in_go() {
        // 1000 * 9Pi overflows int64; the kubelet (as pg-kubelet-harness shows) computes
        // 1000 - (wrapped product / 8Gi) = 967836648, and so must we, without panicking.
        assert_eq!(
            adj(&pod(container(Some("9Pi"), None), None, 0)),
            967_836_648
        );
    }

    #[test]
    fn qos_classes_and_system_classes() {
        let guaranteed = {
            let mut c = container(Some("1Gi"), Some("1Gi"));
            c.limits
                .insert("cpu".into(), Quantity::parse("100m").unwrap());
            pod(c, None, 0)
        };
        assert_eq!(adj(&guaranteed), -997);
        let best_effort = pod(container(None, None), None, 0);
        assert_eq!(adj(&best_effort), 1000);
        // system-node-critical protects even a BestEffort pod...
        let node_critical = pod(
            container(None, None),
            Some("system-node-critical"),
            2_000_001_000,
        );
        assert_eq!(adj(&node_critical), -997);
        // ...system-cluster-critical does not: CoreDNS (70Mi request) scores like any pod.
        let coredns = pod(
            container(Some("70Mi"), Some("170Mi")),
            Some("system-cluster-critical"),
            2_000_000_000,
        );
        assert_eq!(adj(&coredns), 1000 - (1000 * 70 * (1 << 20)) / (8 * GI));
        assert_eq!(adj(&coredns), 992);
        assert_eq!(
            adj(&pod(
                container(None, None),
                Some("system-cluster-critical"),
                2_000_000_000
            )),
            1000
        );
        // The class name alone is not enough: the priority must be critical too.
        assert_eq!(
            adj(&pod(container(None, None), Some("system-node-critical"), 0)),
            1000
        );
    }

    #[test]
    fn sidecars_never_score_above_regular_containers() {
        let mut p = pod(container(Some("2Gi"), None), None, 0);
        let side = container(Some("100Mi"), None);
        p.init_containers = vec![Container {
            sidecar: true,
            ..side.clone()
        }];
        let s = container_score_adj(&p, &p.init_containers[0], ContainerKind::Sidecar, 8 * GI);
        assert_eq!(s, 750, "min(1000 - 12, 1000 - 250)");
        let i = container_score_adj(&p, &side, ContainerKind::Init, 8 * GI);
        assert_eq!(i, 988);
    }
}
