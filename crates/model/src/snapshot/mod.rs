//! A cluster as the simulator sees it: nodes, pods, PriorityClasses and PodDisruptionBudgets,
//! reduced to the fields the scheduler's and kubelet's rules read, with measured usage. The
//! types follow the Kubernetes API (v1.36), and so do their helpers: quantity parsing, label
//! and node selectors, taints and tolerations, priority resolution, each citing the upstream
//! code it follows. What the scheduler and kubelet *do* with them is pg-simulate's.

mod objects;
mod quantity;
mod selector;
mod usage;

pub use objects::{
    CPU, Class, Container, EPHEMERAL_STORAGE, HostPort, Labels, MEMORY, Node, Owner, PODS, Pdb,
    Pod, PodAffinityTerm, ResourceList, SpreadConstraint,
};
pub use quantity::{Quantity, QuantityError, bytes, millis};
pub use selector::{LabelSelector, NodeSelectorTerm, Requirement, Taint, Toleration, untolerated};
pub use usage::{PodUsage, Usage};

use crate::BUILTIN_CLASSES;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub nodes: Vec<Node>,
    /// Set through [`Snapshot::set_pods`] (or [`Snapshot::from_parts`]), which indexes them
    /// by node.
    pub pods: Vec<Pod>,
    /// Every class, the two built-in ones included.
    pub classes: BTreeMap<String, Class>,
    pub pdbs: Vec<Pdb>,
    /// Memory working sets from PodMetrics objects in the snapshot, if any.
    pub usage: Usage,
    /// Things the simulation had to guess or skip, one line each.
    pub warnings: Vec<String>,
    /// Indices into `pods`: per node (non-terminal pods bound to it), and pending pods with a
    /// nominated node. Node assignments never change after loading, so these stay valid.
    by_node: HashMap<String, Vec<usize>>,
    nominated: Vec<usize>,
}

fn builtin_classes() -> BTreeMap<String, Class> {
    BUILTIN_CLASSES
        .iter()
        .map(|b| {
            let c = Class {
                name: b.name.to_string(),
                value: b.value,
                global_default: false,
                preemption_never: false,
            };
            (c.name.clone(), c)
        })
        .collect()
}

impl Snapshot {
    /// A snapshot of these objects (and the built-in classes), ready to simulate.
    pub fn from_parts(nodes: Vec<Node>, pods: Vec<Pod>, pdbs: Vec<Pdb>) -> Snapshot {
        let mut s = Snapshot {
            nodes,
            pods,
            pdbs,
            classes: builtin_classes(),
            ..Snapshot::default()
        };
        s.reindex();
        s
    }

    /// Replaces the pods, and the index [`Snapshot::pods_on`] and
    /// [`Snapshot::nominated_pods`] read.
    pub fn set_pods(&mut self, pods: Vec<Pod>) {
        self.pods = pods;
        self.reindex();
    }

    fn reindex(&mut self) {
        self.by_node.clear();
        self.nominated.clear();
        for (i, p) in self.pods.iter().enumerate() {
            if p.is_terminal() {
                continue;
            }
            match (&p.node_name, &p.nominated_node_name) {
                (Some(n), _) => self.by_node.entry(n.clone()).or_default().push(i),
                (None, Some(_)) => self.nominated.push(i),
                (None, None) => {}
            }
        }
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The pods that hold resources on `node`: bound to it and not Succeeded/Failed.
    pub fn pods_on<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Pod> + 'a {
        self.by_node
            .get(node)
            .into_iter()
            .flatten()
            .map(|&i| &self.pods[i])
    }

    /// Pending pods the scheduler has nominated to a node (it keeps room for them there).
    pub fn nominated_pods(&self) -> impl Iterator<Item = &Pod> {
        self.nominated.iter().map(|&i| &self.pods[i])
    }

    pub fn class(&self, name: &str) -> Option<&Class> {
        self.classes.get(name)
    }

    fn global_default(&self) -> Option<&Class> {
        self.classes.values().find(|c| c.global_default)
    }

    /// The Priority admission plugin's resolution: the class named (built in or defined), else
    /// the global default class, else 0; `preemptionPolicy` comes from the class unless the
    /// spec sets it. A priority already in the spec (read back from a cluster) is kept.
    pub fn resolve_priority(
        &self,
        pod: &mut Pod,
        spec_priority: Option<i64>,
    ) -> Result<(), String> {
        let class = match &pod.priority_class_name {
            Some(name) => match self.class(name) {
                Some(c) => Some(c),
                None if spec_priority.is_some() => None,
                None => {
                    return Err(format!(
                        "pod {}: PriorityClass {name} is not in the snapshot; the Priority admission plugin rejects such pods (priority 0 assumed)",
                        pod.key()
                    ));
                }
            },
            None => self.global_default(),
        };
        if pod.priority_class_name.is_none()
            && spec_priority.is_none()
            && let Some(c) = class
        {
            pod.priority_class_name = Some(c.name.clone());
        }
        pod.priority = spec_priority.or(class.map(|c| c.value)).unwrap_or(0);
        if !pod.preemption_never && spec_priority.is_none() {
            pod.preemption_never = class.is_some_and(|c| c.preemption_never);
        }
        Ok(())
    }
}
