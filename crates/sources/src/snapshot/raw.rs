//! The Kubernetes JSON the simulator reads, as serde structs: one [`Item`] type for every kind
//! (a `List` is an item with `items`), with the union of the fields of Nodes, Pods,
//! PriorityClasses, PodDisruptionBudgets and PodMetrics. Everything else is skipped while
//! parsing, so a big `kubectl get ... -o json` costs little more memory than the fields kept.
//!
//! This is separate from [`crate::raw`], which maps manifests for the audit and never needs
//! resources, nodes or budgets.

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Item {
    pub kind: Option<String>,
    pub metadata: Option<Meta>,
    pub spec: Option<Spec>,
    pub status: Option<Status>,
    /// A `List` (or `PodList`, ...): its items.
    pub items: Option<Vec<Item>>,
    // PriorityClass
    pub value: Option<i64>,
    pub global_default: Option<bool>,
    pub preemption_policy: Option<String>,
    // PodMetrics (metrics.k8s.io)
    pub containers: Option<Vec<MetricsContainer>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Meta {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<KeptAnnotations>,
    pub owner_references: Option<Vec<OwnerReference>>,
    pub deletion_timestamp: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OwnerReference {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub controller: Option<bool>,
}

/// The only annotations the kubelet's rules read: `kubernetes.io/config.mirror` and
/// `kubernetes.io/config.source` (static pods). Others (last-applied-configuration can be
/// kilobytes per pod) are skipped unread.
#[derive(Debug, Default)]
pub struct KeptAnnotations {
    pub mirror: bool,
    pub source: Option<String>,
}

impl<'de> Deserialize<'de> for KeptAnnotations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeptAnnotations;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of annotations")
            }
            fn visit_unit<E>(self) -> Result<KeptAnnotations, E> {
                Ok(KeptAnnotations::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<KeptAnnotations, A::Error> {
                let mut kept = KeptAnnotations::default();
                while let Some(key) = m.next_key::<String>()? {
                    match key.as_str() {
                        "kubernetes.io/config.mirror" => {
                            m.next_value::<IgnoredAny>()?;
                            kept.mirror = true;
                        }
                        "kubernetes.io/config.source" => {
                            kept.source = m.next_value::<Option<String>>()?;
                        }
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(kept)
            }
        }
        d.deserialize_any(V)
    }
}

/// The union of the pod, node and PodDisruptionBudget specs' fields we read.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Spec {
    // Pod
    pub node_name: Option<String>,
    pub priority: Option<i64>,
    pub priority_class_name: Option<String>,
    pub preemption_policy: Option<String>,
    pub containers: Option<Vec<Container>>,
    pub init_containers: Option<Vec<Container>>,
    pub overhead: Option<ResourceMap>,
    pub resources: Option<Resources>,
    pub node_selector: Option<BTreeMap<String, String>>,
    pub affinity: Option<Affinity>,
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    pub tolerations: Option<Vec<Toleration>>,
    pub host_network: Option<bool>,
    pub volumes: Option<Vec<Volume>>,
    // Node
    pub taints: Option<Vec<Taint>>,
    pub unschedulable: Option<bool>,
    // PodDisruptionBudget
    pub selector: Option<LabelSelector>,
    pub min_available: Option<IntOrString>,
    pub max_unavailable: Option<IntOrString>,
    // Controllers (`--pending` accepts a workload and uses its pod template)
    pub template: Option<Box<Item>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Status {
    // Pod
    pub phase: Option<String>,
    pub qos_class: Option<String>,
    pub start_time: Option<String>,
    pub nominated_node_name: Option<String>,
    // Node
    pub capacity: Option<ResourceMap>,
    pub allocatable: Option<ResourceMap>,
    // PodDisruptionBudget
    pub disruptions_allowed: Option<i64>,
    pub disrupted_pods: Option<BTreeMap<String, IgnoredAny>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    pub name: Option<String>,
    pub image: Option<String>,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub resources: Option<Resources>,
    pub restart_policy: Option<String>,
    pub ports: Option<Vec<ContainerPort>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerPort {
    pub host_port: Option<i64>,
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
    pub protocol: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Resources {
    pub requests: Option<ResourceMap>,
    pub limits: Option<ResourceMap>,
}

/// `resources.requests`: names to quantities, kept as text until [`pg_model::snapshot::Quantity`] parses
/// them (manifests may write `cpu: 1` or `cpu: 0.5` as numbers).
pub type ResourceMap = BTreeMap<String, QuantityText>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityText(pub String);

impl<'de> Deserialize<'de> for QuantityText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = QuantityText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quantity (string or number)")
            }
            fn visit_str<E>(self, v: &str) -> Result<QuantityText, E> {
                Ok(QuantityText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<QuantityText, E> {
                Ok(QuantityText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<QuantityText, E> {
                Ok(QuantityText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<QuantityText, E> {
                Ok(QuantityText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `minAvailable: 2` or `minAvailable: "50%"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntOrString(pub String);

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        QuantityText::deserialize(d).map(|q| IntOrString(q.0))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Affinity {
    pub node_affinity: Option<NodeAffinity>,
    pub pod_anti_affinity: Option<PodAntiAffinity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodAntiAffinity {
    pub required_during_scheduling_ignored_during_execution: Option<Vec<PodAffinityTerm>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodAffinityTerm {
    pub label_selector: Option<LabelSelector>,
    pub namespaces: Option<Vec<String>>,
    pub namespace_selector: Option<LabelSelector>,
    pub topology_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopologySpreadConstraint {
    pub max_skew: Option<i64>,
    pub topology_key: Option<String>,
    pub when_unsatisfiable: Option<String>,
    pub label_selector: Option<LabelSelector>,
    pub min_domains: Option<i64>,
    pub node_affinity_policy: Option<String>,
    pub node_taints_policy: Option<String>,
    pub match_label_keys: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeAffinity {
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeSelector {
    pub node_selector_terms: Option<Vec<NodeSelectorTerm>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeSelectorTerm {
    pub match_expressions: Option<Vec<Requirement>>,
    pub match_fields: Option<Vec<Requirement>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Requirement {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub values: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LabelSelector {
    pub match_labels: Option<BTreeMap<String, String>>,
    pub match_expressions: Option<Vec<Requirement>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Taint {
    pub key: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Volume {
    pub host_path: Option<HostPath>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HostPath {
    pub path: Option<String>,
}

/// A PodMetrics container: `usage.memory` is the working set, what the kubelet ranks by.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MetricsContainer {
    pub name: Option<String>,
    pub usage: Option<ResourceMap>,
}
