//! A pod's requests and limits as Kubernetes computes them
//! (`k8s.io/component-helpers/resource.PodRequests` / `PodLimits`), its QoS class
//! (`v1qos.ComputePodQOS`), and the kubelet's request for eviction ranking
//! (`v1resource.GetResourceRequestQuantity`).
//!
//! Requests are `max(sum of containers, max of init containers)` with the KEP-753 sidecar rule:
//! a restartable init container (`restartPolicy: Always`) keeps running, so its requests add to
//! the regular containers' sum and to every init container that starts after it. Pod-level
//! `spec.resources` replaces the container sum for cpu, memory and hugepages; `spec.overhead`
//! (RuntimeClass) is added on top.

use pg_model::snapshot::{
    CPU, Container, EPHEMERAL_STORAGE, MEMORY, PODS, Pod, Quantity, ResourceList,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// Which side of `resources` to aggregate.
#[derive(Clone, Copy)]
enum Side {
    Requests,
    Limits,
}

fn side(c: &Container, s: Side) -> &ResourceList {
    match s {
        Side::Requests => &c.requests,
        Side::Limits => &c.limits,
    }
}

fn add(list: &mut ResourceList, other: &ResourceList) {
    for (k, v) in other {
        *list.entry(k.clone()).or_default() += *v;
    }
}

fn max_into(list: &mut ResourceList, other: &ResourceList) {
    for (k, v) in other {
        let slot = list.entry(k.clone()).or_insert(*v);
        if *v > *slot {
            *slot = *v;
        }
    }
}

/// `AggregateContainerRequests` / `AggregateContainerLimits`.
fn aggregate(pod: &Pod, s: Side) -> ResourceList {
    let mut total = ResourceList::new();
    for c in &pod.containers {
        add(&mut total, side(c, s));
    }
    let mut sidecars = ResourceList::new();
    let mut init_max = ResourceList::new();
    for c in &pod.init_containers {
        let in_use = if c.sidecar {
            add(&mut total, side(c, s));
            add(&mut sidecars, side(c, s));
            sidecars.clone()
        } else {
            let mut tmp = side(c, s).clone();
            add(&mut tmp, &sidecars);
            tmp
        };
        max_into(&mut init_max, &in_use);
    }
    max_into(&mut total, &init_max);
    total
}

/// Pod-level resources count only for cpu, memory and hugepages.
fn pod_level_supported(name: &str) -> bool {
    name == CPU || name == MEMORY || name.starts_with("hugepages-")
}

/// `IsPodLevelRequestsSet`: pod-level requests for a resource they may set.
pub fn pod_level_requests_set(pod: &Pod) -> bool {
    pod.pod_requests.keys().any(|k| pod_level_supported(k))
}

fn pod_level_resources_set(pod: &Pod) -> bool {
    pod_level_requests_set(pod) || pod.pod_limits.keys().any(|k| pod_level_supported(k))
}

/// `resource.PodRequests(pod, {})`: what the scheduler reserves on a node for the pod.
pub fn pod_requests(pod: &Pod) -> ResourceList {
    let mut reqs = aggregate(pod, Side::Requests);
    if pod_level_requests_set(pod) {
        for (k, v) in &pod.pod_requests {
            if pod_level_supported(k) {
                reqs.insert(k.clone(), *v);
            }
        }
    }
    add(&mut reqs, &pod.overhead);
    reqs
}

/// The scheduler's view of a pod's requests (`framework.Resource`): millicores for CPU,
/// whole units for everything else.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Requests {
    pub cpu_millis: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources and hugepages.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub scalar: BTreeMap<String, i64>,
}

impl Requests {
    pub fn of(list: &ResourceList) -> Requests {
        let mut r = Requests::default();
        for (name, q) in list {
            match name.as_str() {
                CPU => r.cpu_millis = q.milli_value(),
                MEMORY => r.memory = q.value(),
                EPHEMERAL_STORAGE => r.ephemeral_storage = q.value(),
                PODS => {}
                other => {
                    r.scalar.insert(other.to_string(), q.value());
                }
            }
        }
        r
    }

    pub fn add(&mut self, other: &Requests) {
        self.cpu_millis += other.cpu_millis;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    pub fn is_zero(&self) -> bool {
        self.cpu_millis == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// The kubelet's `GetResourceRequestQuantity(pod, resource)`, used to rank pods for eviction:
/// pod-level requests replace container-level ones entirely when pod-level resources are set,
/// and the overhead is added only to a non-zero request.
pub fn eviction_request(pod: &Pod, resource: &str) -> Quantity {
    let base = if pod_level_resources_set(pod) {
        pod.pod_requests
            .get(resource)
            .filter(|_| pod_level_supported(resource))
            .copied()
            .unwrap_or_default()
    } else {
        aggregate(pod, Side::Requests)
            .get(resource)
            .copied()
            .unwrap_or_default()
    };
    match pod.overhead.get(resource) {
        Some(o) if !base.is_zero() => base + *o,
        _ => base,
    }
}

/// `resource.PodLimits` for one resource, or `None` when a regular container has no limit
/// for it (the pod is then unbounded for that resource).
pub fn pod_limit(pod: &Pod, resource: &str) -> Option<Quantity> {
    if pod_level_supported(resource)
        && let Some(l) = pod.pod_limits.get(resource)
    {
        return Some(add_overhead(pod, resource, *l));
    }
    if pod
        .containers
        .iter()
        .any(|c| !c.limits.contains_key(resource))
    {
        return None;
    }
    let l = aggregate(pod, Side::Limits).get(resource).copied()?;
    Some(add_overhead(pod, resource, l))
}

fn add_overhead(pod: &Pod, resource: &str, limit: Quantity) -> Quantity {
    match pod.overhead.get(resource) {
        Some(o) if !limit.is_zero() => limit + *o,
        _ => limit,
    }
}

/// A pod's QoS class, which decides its OOM score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Qos {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl Qos {
    pub fn as_str(self) -> &'static str {
        match self {
            Qos::Guaranteed => "Guaranteed",
            Qos::Burstable => "Burstable",
            Qos::BestEffort => "BestEffort",
        }
    }
}

/// `GetPodQOS`: `status.qosClass` when the API reported it (it is fixed at creation), else
/// `ComputePodQOS`.
pub fn qos(pod: &Pod) -> Qos {
    match pod.qos_class.as_deref() {
        Some("Guaranteed") => Qos::Guaranteed,
        Some("Burstable") => Qos::Burstable,
        Some("BestEffort") => Qos::BestEffort,
        _ => compute_qos(pod),
    }
}

/// `ComputePodQOS`: only cpu and memory count. BestEffort when nothing is requested or limited;
/// Guaranteed when every container (init containers included) limits both and requests equal
/// limits; Burstable otherwise. Pod-level resources, when present, decide alone.
pub fn compute_qos(pod: &Pod) -> Qos {
    let qos_resource = |k: &String| k == CPU || k == MEMORY;
    let positive = |list: &ResourceList| -> ResourceList {
        list.iter()
            .filter(|(k, v)| qos_resource(k) && v.is_positive())
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let mut requests = ResourceList::new();
    let mut limits = ResourceList::new();
    let mut guaranteed = true;
    if !pod.pod_requests.is_empty() || !pod.pod_limits.is_empty() {
        add(&mut requests, &positive(&pod.pod_requests));
        if !pod.pod_limits.is_empty() {
            let l = positive(&pod.pod_limits);
            if !(l.contains_key(CPU) && l.contains_key(MEMORY)) {
                guaranteed = false;
            }
            add(&mut limits, &l);
        }
    } else {
        for c in pod.containers.iter().chain(&pod.init_containers) {
            add(&mut requests, &positive(&c.requests));
            let l = positive(&c.limits);
            if !(l.contains_key(CPU) && l.contains_key(MEMORY)) {
                guaranteed = false;
            }
            add(&mut limits, &l);
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return Qos::BestEffort;
    }
    if guaranteed
        && requests.iter().all(|(k, r)| limits.get(k) == Some(r))
        && requests.len() == limits.len()
    {
        return Qos::Guaranteed;
    }
    Qos::Burstable
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(&str, &str)]) -> ResourceList {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap()))
            .collect()
    }

    fn c(name: &str, req: &[(&str, &str)], lim: &[(&str, &str)]) -> Container {
        Container {
            name: name.into(),
            requests: list(req),
            limits: list(lim),
            ..Default::default()
        }
    }

    fn sidecar(name: &str, req: &[(&str, &str)]) -> Container {
        Container {
            sidecar: true,
            ..c(name, req, &[])
        }
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>) -> Pod {
        Pod {
            containers,
            init_containers: init,
            ..Default::default()
        }
    }

    #[test]
    fn init_containers_define_the_minimum() {
        // The example in kube-scheduler's computePodResourceRequest: CPU 3, memory 3G.
        let p = pod(
            vec![
                c("c1", &[("cpu", "2"), ("memory", "1G")], &[]),
                c("c2", &[("cpu", "1"), ("memory", "1G")], &[]),
            ],
            vec![
                c("ic1", &[("cpu", "2"), ("memory", "1G")], &[]),
                c("ic2", &[("cpu", "2"), ("memory", "3G")], &[]),
            ],
        );
        let r = Requests::of(&pod_requests(&p));
        assert_eq!(r.cpu_millis, 3000);
        assert_eq!(r.memory, 3_000_000_000);
    }

    #[test]
    fn sidecars_add_to_containers_and_to_later_init_containers() {
        // KEP-753: sidecar 1 (100m) runs through init 2 (1 CPU) and next to the app (200m).
        let p = pod(
            vec![c("app", &[("cpu", "200m"), ("memory", "100Mi")], &[])],
            vec![
                c("init-1", &[("cpu", "500m")], &[]),
                sidecar("proxy", &[("cpu", "100m"), ("memory", "50Mi")]),
                c("init-2", &[("cpu", "1"), ("memory", "10Mi")], &[]),
            ],
        );
        let r = Requests::of(&pod_requests(&p));
        // containers + sidecar = 300m / 150Mi; init-2 while running = 1100m / 60Mi.
        assert_eq!(r.cpu_millis, 1100);
        assert_eq!(r.memory, 150 << 20);
        // A sidecar *after* the big init container does not add to it.
        let p = pod(
            vec![c("app", &[("cpu", "200m")], &[])],
            vec![
                c("init", &[("cpu", "1")], &[]),
                sidecar("proxy", &[("cpu", "100m")]),
            ],
        );
        assert_eq!(Requests::of(&pod_requests(&p)).cpu_millis, 1000);
    }

    #[test]
    fn overhead_and_pod_level_requests() {
        let mut p = pod(
            vec![c("app", &[("cpu", "100m"), ("memory", "64Mi")], &[])],
            vec![],
        );
        p.overhead = list(&[("cpu", "250m"), ("memory", "120Mi")]);
        let r = Requests::of(&pod_requests(&p));
        assert_eq!((r.cpu_millis, r.memory), (350, 184 << 20));
        // The kubelet's eviction request adds overhead only to a non-zero request.
        assert_eq!(eviction_request(&p, MEMORY).value(), 184 << 20);
        assert_eq!(eviction_request(&p, EPHEMERAL_STORAGE).value(), 0);
        p.pod_requests = list(&[("memory", "1Gi")]);
        let r = Requests::of(&pod_requests(&p));
        assert_eq!((r.cpu_millis, r.memory), (350, (1 << 30) + (120 << 20)));
    }

    #[test]
    fn limits_for_the_limits_assumption() {
        let p = pod(
            vec![
                c("a", &[("memory", "64Mi")], &[("memory", "128Mi")]),
                c("b", &[("memory", "64Mi")], &[]),
            ],
            vec![],
        );
        assert_eq!(pod_limit(&p, MEMORY), None, "b is unbounded");
        let p = pod(vec![c("a", &[], &[("memory", "128Mi")])], vec![]);
        assert_eq!(pod_limit(&p, MEMORY).map(Quantity::value), Some(128 << 20));
    }

    #[test]
    fn qos_classes() {
        let guaranteed = pod(
            vec![c(
                "a",
                &[("cpu", "1"), ("memory", "1Gi")],
                &[("cpu", "1"), ("memory", "1Gi")],
            )],
            vec![],
        );
        assert_eq!(compute_qos(&guaranteed), Qos::Guaranteed);
        assert_eq!(
            compute_qos(&pod(vec![c("a", &[], &[])], vec![])),
            Qos::BestEffort
        );
        // Upstream Multus: the main container is "guaranteed", the init container only
        // requests, so the pod is Burstable.
        let multus = pod(
            vec![c(
                "kube-multus",
                &[("cpu", "100m"), ("memory", "50Mi")],
                &[("cpu", "100m"), ("memory", "50Mi")],
            )],
            vec![c("install", &[("cpu", "10m"), ("memory", "15Mi")], &[])],
        );
        assert_eq!(compute_qos(&multus), Qos::Burstable);
        let mut reported = multus.clone();
        reported.qos_class = Some("BestEffort".into());
        assert_eq!(qos(&reported), Qos::BestEffort, "status.qosClass wins");
    }

    #[test]
    fn pod_level_requests_replace_only_cpu_memory_and_hugepages() {
        // resource.PodRequests takes a pod-level request only where IsSupportedPodLevelResource
        // says so: cpu, memory and hugepages-*. The API server rejects a pod-level
        // ephemeral-storage request, but a manifest on disk may carry one; it is ignored.
        let mut p = pod(
            vec![c(
                "app",
                &[
                    ("cpu", "100m"),
                    ("memory", "64Mi"),
                    ("ephemeral-storage", "1Gi"),
                ],
                &[],
            )],
            vec![],
        );
        p.pod_requests = list(&[
            ("cpu", "1"),
            ("memory", "1Gi"),
            ("hugepages-2Mi", "64Mi"),
            ("ephemeral-storage", "5Gi"),
        ]);
        let r = Requests::of(&pod_requests(&p));
        assert_eq!((r.cpu_millis, r.memory), (1000, 1 << 30));
        assert_eq!(r.scalar.get("hugepages-2Mi"), Some(&(64 << 20)));
        assert_eq!(r.ephemeral_storage, 1 << 30, "the containers' request");
    }

    #[test]
    fn requests_add_up_per_resource() {
        // What the scheduler counts for pods nominated to a node: Multus, CoreDNS and a GPU job.
        let multus = pod(
            vec![c(
                "kube-multus",
                &[("cpu", "100m"), ("memory", "50Mi")],
                &[("cpu", "100m"), ("memory", "50Mi")],
            )],
            vec![],
        );
        let coredns = pod(
            vec![c(
                "coredns",
                &[("cpu", "100m"), ("memory", "70Mi")],
                &[("memory", "170Mi")],
            )],
            vec![],
        );
        let train = pod(
            vec![c(
                "train",
                &[
                    ("cpu", "2"),
                    ("memory", "4Gi"),
                    ("ephemeral-storage", "10Gi"),
                    ("nvidia.com/gpu", "2"),
                ],
                &[("nvidia.com/gpu", "2")],
            )],
            vec![],
        );
        let mut total = Requests::default();
        for p in [&multus, &coredns, &train, &train] {
            total.add(&Requests::of(&pod_requests(p)));
        }
        assert_eq!(
            total,
            Requests {
                cpu_millis: 4200,
                memory: (120 << 20) + (8 << 30),
                ephemeral_storage: 20 << 30,
                scalar: [("nvidia.com/gpu".to_string(), 4)].into(),
            }
        );
    }

    #[test]
    fn a_pod_requests_nothing_only_when_every_resource_is_zero() {
        // fitsRequest skips the resource checks for such a pod (kubeadm's kube-proxy).
        let requests = |req: &[(&str, &str)]| {
            Requests::of(&pod_requests(&pod(vec![c("c", req, &[])], vec![])))
        };
        assert!(requests(&[]).is_zero());
        // calico-node requests only cpu; others only memory, ephemeral-storage or a GPU.
        for req in [
            ("cpu", "250m"),
            ("memory", "64Mi"),
            ("ephemeral-storage", "10Gi"),
            ("nvidia.com/gpu", "1"),
        ] {
            assert!(!requests(&[req]).is_zero(), "{req:?}");
        }
    }

    #[test]
    fn the_overhead_adds_to_non_zero_limits() {
        // A Kata pod (RuntimeClass overhead 120Mi): PodLimits adds the overhead to the
        // containers' limit and to a pod-level one, but a limit of 0 stays 0 ("Add overhead to
        // non-zero limits").
        let mut p = pod(vec![c("app", &[], &[("memory", "128Mi")])], vec![]);
        p.overhead = list(&[("cpu", "250m"), ("memory", "120Mi")]);
        assert_eq!(pod_limit(&p, MEMORY).map(Quantity::value), Some(248 << 20));
        p.pod_limits = list(&[("memory", "1Gi")]);
        assert_eq!(
            pod_limit(&p, MEMORY).map(Quantity::value),
            Some((1 << 30) + (120 << 20))
        );
        let mut zero = pod(vec![c("app", &[], &[("memory", "0")])], vec![]);
        zero.overhead = p.overhead.clone();
        assert_eq!(pod_limit(&zero, MEMORY).map(Quantity::value), Some(0));
    }

    #[test]
    fn qos_words_are_the_apis_status_qos_class() {
        // Reports print them, and qos() reads them back from status.qosClass.
        for q in [Qos::Guaranteed, Qos::Burstable, Qos::BestEffort] {
            let reported = Pod {
                qos_class: Some(q.as_str().into()),
                ..pod(vec![c("a", &[], &[])], vec![])
            };
            assert_eq!(qos(&reported), q, "{}", q.as_str());
        }
        assert_eq!(
            [Qos::Guaranteed, Qos::Burstable, Qos::BestEffort].map(Qos::as_str),
            ["Guaranteed", "Burstable", "BestEffort"]
        );
    }
}
