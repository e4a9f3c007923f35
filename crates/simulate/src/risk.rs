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
