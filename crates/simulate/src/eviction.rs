//! The kubelet's node-pressure eviction order (`pkg/kubelet/eviction/helpers.go`,
//! `rankMemoryPressure`, `rankDiskPressureFunc` and `rankPIDPressure`): under memory or
//! ephemeral-storage pressure, pods whose usage of the starved resource exceeds their request
//! first, then lower priority first, then larger usage above request first; under PID pressure,
//! lower priority first, then more processes first. The kubelet ranks every active pod and
//! evicts the first one `evictPod` accepts, one pod per housekeeping round; `evictPod` refuses
//! critical pods (static or mirror pods, priority >= 2000000000), so those are immune and the
//! next pod in the ranking goes instead.
//!
//! The comparisons are exact, as the kubelet's `Quantity.Cmp` (a request of `100m` bytes is
//! exceeded by a usage of 1 byte). The kubelet sorts with Go's `sort.Sort`, which is not stable:
//! pods its comparison cannot tell apart are reported as a tie, in no particular order.
//! Checked against the kubelet's eviction manager itself by the `kubelet_agreement` test.

use crate::resources::{eviction_request, pod_limit};
use pg_model::snapshot::{EPHEMERAL_STORAGE, MEMORY, Node, Pod, Quantity, Snapshot, Usage};
use serde::Serialize;
use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pressure {
    Memory,
    /// `nodefs.available` (or `imagefs`) on a node without a separate image filesystem.
    EphemeralStorage,
    /// `pid.available`: pods are ranked by priority, then by process count.
    Pid,
}

impl Pressure {
    /// The resource requests are compared with, if any (processes cannot be requested).
    pub fn resource(self) -> Option<&'static str> {
        match self {
            Pressure::Memory => Some(MEMORY),
            Pressure::EphemeralStorage => Some(EPHEMERAL_STORAGE),
            Pressure::Pid => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Pressure::Memory => "memory",
            Pressure::EphemeralStorage => "ephemeral-storage",
            Pressure::Pid => "PID",
        }
    }
}

/// What to take as a pod's usage when nothing measured it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assume {
    /// Usage = request: nobody exceeds a request, except pods that request nothing (any use
    /// exceeds zero), so priority decides.
    Requests,
    /// Usage = limit where every container has one (a pod at its limit), else = request.
    /// Processes have no limit per pod here: under PID pressure this is `Requests`.
    Limits,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UsageSource {
    Measured,
    AssumedRequests,
    AssumedLimits,
}

impl UsageSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageSource::Measured => "measured",
            UsageSource::AssumedRequests => "assumed = request",
            UsageSource::AssumedLimits => "assumed = limit",
        }
    }
}

/// One evictable pod's place in the order.
#[derive(Clone, Debug, Serialize)]
pub struct Ranked {
    pub pod: String,
    /// 1-based position; pods the kubelet's comparison cannot tell apart share a `rank` and
    /// `tied` says how many they are (the kubelet's order among them is arbitrary).
    pub rank: usize,
    pub tied: usize,
    pub priority: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Bytes requested (always 0 under PID pressure).
    pub request: i64,
    /// Bytes, or processes under PID pressure. `None`: unknown, but more than the (zero)
    /// request, or an unknown process count.
    pub usage: Option<i64>,
    pub usage_source: UsageSource,
    pub exceeds_request: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Immune {
    pub pod: String,
    pub priority: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct EvictionOrder {
    pub node: String,
    pub pressure: Pressure,
    pub order: Vec<Ranked>,
    pub immune: Vec<Immune>,
}

impl EvictionOrder {
    pub fn position(&self, pod: &str) -> Option<&Ranked> {
        self.order.iter().find(|r| r.pod == pod)
    }

    pub fn is_immune(&self, pod: &str) -> bool {
        self.immune.iter().any(|i| i.pod == pod)
    }
}

fn immune_reason(pod: &Pod) -> Option<String> {
    if pod.static_or_mirror {
        Some("static or mirror pod".into())
    } else if pod.priority >= pg_model::SYSTEM_CRITICAL_THRESHOLD {
        Some(format!("priority {} >= 2000000000", pod.priority))
    } else {
        None
    }
}

/// The ranking key and what it was computed from.
struct Entry<'a> {
    pod: &'a Pod,
    request: Quantity,
    usage: Option<i64>,
    source: UsageSource,
    exceeds: bool,
    /// usage - request, exactly (0 when unknown); the process count under PID pressure.
    excess: Quantity,
}

fn entry<'a>(pod: &'a Pod, pressure: Pressure, usage: &Usage, assume: Assume) -> Entry<'a> {
    let measured = usage.get(&pod.key()).and_then(|u| match pressure {
        Pressure::Memory => u.memory,
        Pressure::EphemeralStorage => u.ephemeral_storage,
        Pressure::Pid => u.processes,
    });
    let Some(resource) = pressure.resource() else {
        // rankPIDPressure: priority, then the process count; nothing is requested.
        let source = match measured {
            Some(_) => UsageSource::Measured,
            None => UsageSource::AssumedRequests,
        };
        return Entry {
            pod,
            request: Quantity::ZERO,
            usage: measured,
            source,
            exceeds: false,
            excess: Quantity::from_value(measured.unwrap_or(0)),
        };
    };
    let request = eviction_request(pod, resource);
    let (usage, source) = match (measured, assume) {
        (Some(m), _) => (Some(m), UsageSource::Measured),
        (None, Assume::Limits) => match pod_limit(pod, resource) {
            Some(l) => (Some(l.value()), UsageSource::AssumedLimits),
            None => (None, UsageSource::AssumedRequests),
        },
        (None, Assume::Requests) => (None, UsageSource::AssumedRequests),
    };
    let (usage, exceeds, excess) = match usage {
        Some(u) => {
            let u_q = Quantity::from_value(u);
            (Some(u), u_q > request, u_q - request)
        }
        // Unknown usage, assumed to equal the request; a pod requesting nothing still uses
        // something, which exceeds its request.
        None if request.is_zero() => (None, true, Quantity::ZERO),
        None => (Some(request.value()), false, Quantity::ZERO),
    };
    Entry {
        pod,
        request,
        usage,
        source,
        exceeds,
        excess,
    }
}

/// `orderedBy(exceedRequests, priority, usageAboveRequest)` (`orderedBy(priority, process)`
/// under PID pressure, where `exceeds` is always false): earlier = evicted sooner.
fn kubelet_cmp(a: &Entry, b: &Entry) -> Ordering {
    b.exceeds
        .cmp(&a.exceeds)
        .then(a.pod.priority.cmp(&b.pod.priority))
        .then(b.excess.cmp(&a.excess))
}

/// The order in which the kubelet on `node` evicts pods under `pressure`.
pub fn rank(
    snapshot: &Snapshot,
    node: &Node,
    pressure: Pressure,
    usage: &Usage,
    assume: Assume,
) -> EvictionOrder {
    let mut entries = Vec::new();
    let mut immune = Vec::new();
    // Terminating pods are already on their way out; the kubelet ranks active pods only.
    for pod in snapshot.pods_on(&node.name).filter(|p| !p.terminating) {
        match immune_reason(pod) {
            Some(reason) => immune.push(Immune {
                pod: pod.key(),
                priority: pod.priority,
                class: pod.priority_class_name.clone(),
                reason,
            }),
            None => entries.push(entry(pod, pressure, usage, assume)),
        }
    }
    // Names break ties only to make the output stable; `tied` says they are ties.
    entries.sort_by(|a, b| kubelet_cmp(a, b).then_with(|| a.pod.key().cmp(&b.pod.key())));
    let mut order = Vec::with_capacity(entries.len());
    let mut start = 0;
    while start < entries.len() {
        let end = (start..entries.len())
            .find(|&i| kubelet_cmp(&entries[start], &entries[i]) != Ordering::Equal)
            .unwrap_or(entries.len());
        for e in &entries[start..end] {
            order.push(Ranked {
                pod: e.pod.key(),
                rank: start + 1,
                tied: end - start,
                priority: e.pod.priority,
                class: e.pod.priority_class_name.clone(),
                request: e.request.value(),
                usage: e.usage,
                usage_source: e.source,
                exceeds_request: e.exceeds,
            });
        }
        start = end;
    }
    immune.sort_by(|a, b| a.pod.cmp(&b.pod));
    EvictionOrder {
        node: node.name.clone(),
        pressure,
        order,
        immune,
    }
}

/// `3` -> `3rd`.
pub fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// `3rd`, or `3rd-7th` for a tie of 5.
pub fn place(rank: usize, tied: usize) -> String {
    if tied > 1 {
        format!("{}-{}", ordinal(rank), ordinal(rank + tied - 1))
    } else {
        ordinal(rank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_model::snapshot::{Container, PodUsage, Quantity, ResourceList};

    fn mem(v: &str) -> ResourceList {
        [(MEMORY.to_string(), Quantity::parse(v).unwrap())].into()
    }

    fn pod(name: &str, priority: i64, request: Option<&str>) -> Pod {
        Pod {
            namespace: "ns".into(),
            name: name.into(),
            node_name: Some("n".into()),
            priority,
            containers: vec![Container {
                name: "c".into(),
                requests: request.map(mem).unwrap_or_default(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn snapshot(pods: Vec<Pod>) -> (Snapshot, Node) {
        let node = Node {
            name: "n".into(),
            ..Default::default()
        };
        (Snapshot::from_parts(vec![node.clone()], pods, vec![]), node)
    }

    fn usage(pairs: &[(&str, i64)]) -> Usage {
        Usage {
            pods: pairs
                .iter()
                .map(|(k, v)| {
                    (
                        format!("ns/{k}"),
                        PodUsage {
                            memory: Some(*v),
                            ephemeral_storage: None,
                            processes: Some(*v),
                        },
                    )
                })
                .collect(),
            source: None,
        }
    }

    fn names(o: &EvictionOrder) -> Vec<String> {
        o.order
            .iter()
            .map(|r| r.pod.trim_start_matches("ns/").to_string())
            .collect()
    }

    const MI: i64 = 1 << 20;

    #[test]
    fn exceeding_first_then_priority_then_excess() {
        let (s, n) = snapshot(vec![
            pod("low-within", 0, Some("100Mi")),
            pod("high-over-small", 1000, Some("100Mi")),
            pod("high-over-big", 1000, Some("100Mi")),
            pod("low-over", 0, Some("100Mi")),
            pod("mid-within", 500, Some("100Mi")),
        ]);
        let u = usage(&[
            ("low-within", 50 * MI),
            ("high-over-small", 110 * MI),
            ("high-over-big", 300 * MI),
            ("low-over", 101 * MI),
            ("mid-within", 100 * MI),
        ]);
        let o = rank(&s, &n, Pressure::Memory, &u, Assume::Requests);
        // Exceeding pods first (low priority first, then bigger excess), then the rest by
        // priority; within equal priority the larger (usage - request) goes first: -50Mi is
        // the only non-exceeding priority-0 pod.
        assert_eq!(
            names(&o),
            [
                "low-over",
                "high-over-big",
                "high-over-small",
                "low-within",
                "mid-within"
            ]
        );
        assert!(o.order.iter().all(|r| r.tied == 1));
        assert_eq!(o.order[0].usage_source, UsageSource::Measured);
    }

    #[test]
    fn excess_decides_within_a_priority() {
        let (s, n) = snapshot(vec![pod("a", 0, Some("100Mi")), pod("b", 0, Some("1Gi"))]);
        // Neither exceeds; a is 10Mi under, b is 500Mi under: a goes first.
        let u = usage(&[("a", 90 * MI), ("b", 524 * MI)]);
        assert_eq!(
            names(&rank(&s, &n, Pressure::Memory, &u, Assume::Requests)),
            ["a", "b"]
        );
    }

    #[test]
    fn critical_pods_are_immune() {
        let mut mirror = pod("etcd", 0, None);
        mirror.static_or_mirror = true;
        let node_critical = pod("kube-proxy", 2_000_001_000, None);
        let cluster_critical = pod("coredns", 2_000_000_000, Some("70Mi"));
        let user_max = pod("user-max", 1_000_000_000, None);
        let (s, n) = snapshot(vec![mirror, node_critical, cluster_critical, user_max]);
        let o = rank(
            &s,
            &n,
            Pressure::Memory,
            &Usage::default(),
            Assume::Requests,
        );
        assert_eq!(names(&o), ["user-max"], "no user class is immune");
        assert_eq!(o.immune.len(), 3);
        assert!(o.is_immune("ns/coredns"));
        assert!(!o.is_immune("ns/user-max"));
        assert_eq!(o.position("ns/user-max").map(|r| r.rank), Some(1));
        assert!(
            o.position("ns/coredns").is_none(),
            "immune pods have no place"
        );
    }

    #[test]
    fn assumptions_are_labelled_and_ties_reported() {
        let (s, n) = snapshot(vec![
            pod("a", 0, Some("100Mi")),
            pod("b", 0, Some("200Mi")),
            pod("best-effort", 0, None),
            pod("c", 10, Some("100Mi")),
        ]);
        let o = rank(
            &s,
            &n,
            Pressure::Memory,
            &Usage::default(),
            Assume::Requests,
        );
        // A pod with no request exceeds it with any use; a and b tie at priority 0.
        assert_eq!(names(&o), ["best-effort", "a", "b", "c"]);
        assert!(o.order[0].exceeds_request && o.order[0].usage.is_none());
        assert_eq!((o.order[1].rank, o.order[1].tied), (2, 2));
        assert_eq!((o.order[2].rank, o.order[2].tied), (2, 2));
        assert_eq!(place(o.order[1].rank, o.order[1].tied), "2nd-3rd");
        assert_eq!(o.order[3].usage_source, UsageSource::AssumedRequests);
    }

    #[test]
    fn limits_assumption() {
        let mut capped = pod("capped", 0, Some("100Mi"));
        capped.containers[0].limits = mem("400Mi");
        let (s, n) = snapshot(vec![capped, pod("open", 0, Some("100Mi"))]);
        let o = rank(&s, &n, Pressure::Memory, &Usage::default(), Assume::Limits);
        assert_eq!(names(&o), ["capped", "open"]);
        assert_eq!(o.order[0].usage_source, UsageSource::AssumedLimits);
        assert_eq!(o.order[0].usage, Some(400 * MI));
        assert_eq!(o.order[1].usage_source, UsageSource::AssumedRequests);
    }

    #[test]
    fn pid_pressure_is_priority_then_processes() {
        // Requests do not count: priority first, then the larger process count.
        let (s, n) = snapshot(vec![
            pod("few", 0, None),
            pod("many", 0, Some("1Gi")),
            pod("high", 10, None),
            pod("same-a", 5, None),
            pod("same-b", 5, None),
        ]);
        let u = usage(&[
            ("few", 3),
            ("many", 300),
            ("high", 9000),
            ("same-a", 7),
            ("same-b", 7),
        ]);
        let o = rank(&s, &n, Pressure::Pid, &u, Assume::Requests);
        assert_eq!(names(&o), ["many", "few", "same-a", "same-b", "high"]);
        assert_eq!((o.order[2].rank, o.order[2].tied), (3, 2));
        assert_eq!(o.order[0].usage, Some(300));
    }

    #[test]
    fn comparisons_are_exact_like_quantity_cmp() {
        // A request of 100m bytes rounds up to 1 byte, but 1 byte of usage still exceeds it.
        let (s, n) = snapshot(vec![
            pod("milli", 0, Some("100m")),
            pod("one", 0, Some("1")),
        ]);
        let u = usage(&[("milli", 1), ("one", 1)]);
        let o = rank(&s, &n, Pressure::Memory, &u, Assume::Requests);
        assert_eq!(names(&o), ["milli", "one"]);
        assert!(o.order[0].exceeds_request && !o.order[1].exceeds_request);
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal(1), "1st");
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(3), "3rd");
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(22), "22nd");
        assert_eq!(ordinal(113), "113th");
    }

    #[test]
    fn a_tie_is_named_by_its_first_and_last_place() {
        assert_eq!(place(3, 1), "3rd");
        assert_eq!(place(1, 2), "1st-2nd");
        assert_eq!(place(3, 5), "3rd-7th");
    }

    /// The words reports print for each value (the kubelet's signal names, and where a usage
    /// came from).
    #[test]
    fn report_words() {
        assert_eq!(
            [Pressure::Memory, Pressure::EphemeralStorage, Pressure::Pid].map(Pressure::as_str),
            ["memory", "ephemeral-storage", "PID"]
        );
        assert_eq!(
            [
                UsageSource::Measured,
                UsageSource::AssumedRequests,
                UsageSource::AssumedLimits
            ]
            .map(UsageSource::as_str),
            ["measured", "assumed = request", "assumed = limit"]
        );
    }
}
