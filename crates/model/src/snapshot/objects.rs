//! The cluster as the simulator sees it: nodes, pods, PodDisruptionBudgets, reduced to the
//! fields the scheduler's and kubelet's rules read.

use super::quantity::Quantity;
use super::selector::{LabelSelector, NodeSelectorTerm, Taint, Toleration};

/// A required (anti-)affinity term: pods matching `selector` in `namespaces` (the owner's own
/// when the term names none), counted per value of the node label `topology_key`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodAffinityTerm {
    /// `None`: no `labelSelector`, which matches no pod.
    pub selector: Option<LabelSelector>,
    pub namespaces: Vec<String>,
    /// `namespaceSelector: {}`: every namespace.
    pub all_namespaces: bool,
    pub topology_key: String,
}

impl PodAffinityTerm {
    /// `AffinityTerm.Matches`: whether `pod` is one of the pods the term of a pod in
    /// namespace `owner_namespace` is about.
    pub fn matches(&self, owner_namespace: &str, pod: &Pod) -> bool {
        let in_namespace = self.all_namespaces
            || if self.namespaces.is_empty() {
                pod.namespace == owner_namespace
            } else {
                self.namespaces.contains(&pod.namespace)
            };
        in_namespace
            && self
                .selector
                .as_ref()
                .is_some_and(|s| s.matches(&pod.labels))
    }
}
/// A `topologySpreadConstraints` entry with `whenUnsatisfiable: DoNotSchedule`, as the
/// PodTopologySpread filter holds it (`ScheduleAnyway` ones only score and are dropped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpreadConstraint {
    pub max_skew: i64,
    pub topology_key: String,
    /// `None`: no `labelSelector`, which matches no pod. `matchLabelKeys` are merged in as
    /// `matchLabels` with the owner's values, as the scheduler does.
    pub selector: Option<LabelSelector>,
    /// `minDomains`, 1 when unset: with fewer eligible domains the global minimum is 0.
    pub min_domains: i64,
    /// `nodeAffinityPolicy: Honor` (the default): only nodes matching the owner's node
    /// selector and required node affinity count.
    pub honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor` (default `Ignore`): only nodes whose NoSchedule/NoExecute
    /// taints the owner tolerates count.
    pub honor_node_taints: bool,
}

impl SpreadConstraint {
    /// `Selector.Matches`: whether a pod with `labels` is one of those spread.
    pub fn selects(&self, labels: &Labels) -> bool {
        self.selector.as_ref().is_some_and(|s| s.matches(labels))
    }

    /// `countPodsMatchSelector`'s view: an empty selector (which selects every pod) counts
    /// none, a quirk of the scheduler kept here.
    pub fn counts(&self, labels: &Labels) -> bool {
        self.selector
            .as_ref()
            .is_some_and(|s| !s.is_empty() && s.matches(labels))
    }
}

use std::collections::BTreeMap;

/// Resource name -> quantity, as in a container's `resources.requests`.
pub type ResourceList = BTreeMap<String, Quantity>;
pub type Labels = BTreeMap<String, String>;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub image: String,
    /// The first words of `command` then `args`, which tell the catalog's components that
    /// share an image apart.
    pub command: crate::CommandLine,
    pub requests: ResourceList,
    pub limits: ResourceList,
    /// An init container with `restartPolicy: Always`: a sidecar (KEP-753), which keeps running
    /// next to the regular containers and so adds to their requests.
    pub sidecar: bool,
    /// `ports[]` entries with a `hostPort`, which the scheduler's NodePorts filter checks.
    pub host_ports: Vec<HostPort>,
}

/// A host port as the scheduler keys it (`HostPortInfo`): an empty `hostIP` is `0.0.0.0`
/// (every address), an empty protocol `TCP`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i64,
}

impl HostPort {
    /// `HostPortInfo.CheckConflict`: the same protocol and port, on the same address or on
    /// `0.0.0.0` on either side.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.protocol == other.protocol
            && self.port == other.port
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// Who created a pod, from its controlling `ownerReferences` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    pub owner: Option<Owner>,
    /// A static pod (`kubernetes.io/config.source` other than `api`) or its mirror object
    /// (`kubernetes.io/config.mirror`): the kubelet treats both as critical.
    pub static_or_mirror: bool,
    pub node_name: Option<String>,
    pub nominated_node_name: Option<String>,
    /// `status.phase`; Succeeded and Failed pods hold no resources.
    pub phase: Option<String>,
    /// `metadata.deletionTimestamp` is set: the pod is terminating.
    pub terminating: bool,
    /// `status.startTime` (RFC 3339, UTC), which orders equal-priority pods in preemption.
    pub start_time: Option<String>,
    pub priority_class_name: Option<String>,
    /// The resolved priority (`spec.priority`, else the class's value, else 0).
    pub priority: i64,
    /// `preemptionPolicy: Never`: the pod waits instead of preempting.
    pub preemption_never: bool,
    /// `status.qosClass` when the API reported it; computed otherwise.
    pub qos_class: Option<String>,
    pub containers: Vec<Container>,
    pub init_containers: Vec<Container>,
    pub overhead: ResourceList,
    /// Pod-level `spec.resources` (PodLevelResources, on by default since 1.34).
    pub pod_requests: ResourceList,
    pub pod_limits: ResourceList,
    pub node_selector: Labels,
    /// Required node affinity terms (ORed); `None` when there is no required affinity.
    pub affinity_terms: Option<Vec<NodeSelectorTerm>>,
    /// Required inter-pod anti-affinity terms.
    pub anti_affinity: Vec<PodAffinityTerm>,
    /// Topology spread constraints the scheduler enforces (`DoNotSchedule`).
    pub spread: Vec<SpreadConstraint>,
    pub tolerations: Vec<Toleration>,
    // For the catalog, which recognises critical components.
    pub host_network: bool,
    pub host_paths: Vec<String>,
}

impl Pod {
    /// `namespace/name`, as pods are named in output and usage files.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The API's `IsCriticalPod`: never evicted by the kubelet under node pressure.
    pub fn is_critical(&self) -> bool {
        self.static_or_mirror || self.priority >= crate::SYSTEM_CRITICAL_THRESHOLD
    }

    /// The kubelet's `IsNodeCriticalPod`: critical *and* in class system-node-critical; only
    /// these (and Guaranteed pods) get the OOM protection of -997.
    pub fn is_node_critical(&self) -> bool {
        self.is_critical()
            && self.priority_class_name.as_deref() == Some(crate::SYSTEM_NODE_CRITICAL)
    }

    /// `GetHostPorts`: host ports of the regular containers and of sidecars (init containers
    /// that run the pod's whole life); other init containers' ports are not reserved.
    pub fn host_ports(&self) -> impl Iterator<Item = &HostPort> {
        self.containers
            .iter()
            .chain(self.init_containers.iter().filter(|c| c.sidecar))
            .flat_map(|c| &c.host_ports)
    }

    /// Succeeded and Failed pods are gone for the scheduler (its informer filters them out)
    /// and for the kubelet.
    pub fn is_terminal(&self) -> bool {
        matches!(self.phase.as_deref(), Some("Succeeded" | "Failed"))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub labels: Labels,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: ResourceList,
    pub capacity: ResourceList,
}

impl Node {
    /// What the kubelet divides by in the OOM formula: the machine's memory capacity.
    pub fn memory_capacity(&self) -> Option<i64> {
        self.capacity
            .get(MEMORY)
            .or_else(|| self.allocatable.get(MEMORY))
            .map(|q| q.value())
            .filter(|v| *v > 0)
    }
}

/// A PodDisruptionBudget as the scheduler reads it: only `status.disruptionsAllowed` and
/// `status.disruptedPods` count, not `minAvailable` / `maxUnavailable` themselves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pdb {
    pub namespace: String,
    pub name: String,
    pub selector: Option<LabelSelector>,
    pub min_available: Option<String>,
    pub max_unavailable: Option<String>,
    pub disruptions_allowed: i64,
    /// False when the object had no status (a manifest, not read back from a cluster):
    /// `disruptions_allowed` is then estimated from the spec.
    pub from_status: bool,
    pub disrupted_pods: Vec<String>,
}

impl Pdb {
    /// The scheduler's matching: same namespace, a non-empty valid selector that matches, and a
    /// pod with at least one label.
    pub fn matches(&self, pod: &Pod) -> bool {
        self.namespace == pod.namespace
            && !pod.labels.is_empty()
            && self
                .selector
                .as_ref()
                .is_some_and(|s| !s.is_empty() && s.matches(&pod.labels))
    }
}

/// A PriorityClass: its value and whether pods in it may preempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    pub name: String,
    pub value: i64,
    pub global_default: bool,
    pub preemption_never: bool,
}
