//! Which workloads are critical, and which class each needs.
//!
//! The catalog is data (`catalog.yaml`, compiled in) so that adding a component is adding an
//! entry, and users extend or override it with a policy file in the same format.

mod glob;

use glob::glob_match;
use pg_model::{
    CheckId, ComponentMatch, Role, SYSTEM_CLUSTER_CRITICAL, SYSTEM_NODE_CRITICAL, Severity,
    Workload, WorkloadKind,
};
use serde::Deserialize;
use std::collections::BTreeMap;

const BUILTIN: &str = include_str!("../catalog.yaml");

/// One known critical component and how to recognise it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub containers: Vec<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub kinds: Vec<WorkloadKind>,
    #[serde(default)]
    pub host_network: bool,
    #[serde(default)]
    pub host_paths: Vec<String>,
}

impl Entry {
    pub fn recommended_class(&self) -> &str {
        self.class.as_deref().unwrap_or(match self.role {
            Role::NodeAgent => SYSTEM_NODE_CRITICAL,
            Role::ClusterService => SYSTEM_CLUSTER_CRITICAL,
        })
    }

    fn applies_to_kind(&self, kind: WorkloadKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    fn namespace_allowed(&self, ns: Option<&str>) -> bool {
        self.namespaces.is_empty()
            || ns.is_none_or(|ns| ns.contains("{{") || self.namespaces.iter().any(|n| n == ns))
    }

    /// Why this entry matches `w`, if it does.
    fn matches(&self, w: &Workload) -> Option<String> {
        if !self.applies_to_kind(effective_kind(w)) {
            return None;
        }
        for c in &w.pod.containers {
            if let Some(repo) = repository(&c.image)
                && self.images.iter().any(|p| repository_matches(p, repo))
            {
                return Some(format!("image {}", c.image_and_origin()));
            }
        }
        if let Some(c) = w
            .pod
            .containers
            .iter()
            .find(|c| self.containers.iter().any(|p| glob_match(p, &c.name)))
        {
            return Some(format!("container {}", c.name));
        }
        if !self.namespace_allowed(w.namespace.as_deref()) {
            return None;
        }
        let owner_name = w.owner.as_ref().map(|o| o.name.as_str());
        for name in [Some(w.name.as_str()), owner_name].into_iter().flatten() {
            if self.names.iter().any(|p| glob_match(p, name)) {
                return Some(format!("name {name}"));
            }
        }
        for (k, v) in w.pod.labels.iter().chain(&w.labels) {
            for pattern in &self.labels {
                let (pk, pv) = pattern.split_once('=').unwrap_or((pattern, "*"));
                if pk == k && glob_match(pv, v) {
                    return Some(format!("label {k}={v}"));
                }
            }
        }
        if !self.host_paths.is_empty() && (!self.host_network || w.pod.host_network) {
            let hit = w.pod.host_paths.iter().find(|hp| {
                self.host_paths
                    .iter()
                    .any(|p| hp.trim_end_matches('/') == p || hp.starts_with(&format!("{p}/")))
            });
            if let Some(hp) = hit {
                let net = if self.host_network {
                    "hostNetwork + "
                } else {
                    ""
                };
                return Some(format!("{net}hostPath {hp}"));
            }
        }
        None
    }
}

/// A pod is judged as the kind of workload that owns it.
fn effective_kind(w: &Workload) -> WorkloadKind {
    match (&w.owner, w.kind) {
        (Some(o), WorkloadKind::Pod) => WorkloadKind::from_kind(&o.kind).unwrap_or(w.kind),
        _ => w.kind,
    }
}

/// `ghcr.io/org/multus-cni:v4@sha256:…` -> `ghcr.io/org/multus-cni`
fn repository(image: &str) -> Option<&str> {
    let image = image.split('@').next()?;
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    let repo = match image[last_slash..].find(':') {
        Some(colon) => &image[..last_slash + colon],
        None => image,
    };
    (!repo.is_empty() && !repo.contains("{{")).then_some(repo)
}

/// `calico/node` matches `quay.io/calico/node`, `multus-cni` any repository ending in it.
fn repository_matches(pattern: &str, repo: &str) -> bool {
    let want: Vec<&str> = pattern.split('/').collect();
    let have: Vec<&str> = repo.split('/').collect();
    have.len() >= want.len()
        && want
            .iter()
            .zip(&have[have.len() - want.len()..])
            .all(|(p, s)| glob_match(p, s))
}

/// How a policy file changes a check.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SeverityOverride {
    Error,
    Warning,
    Info,
    Off,
}

impl SeverityOverride {
    pub fn severity(self) -> Option<Severity> {
        match self {
            SeverityOverride::Error => Some(Severity::Error),
            SeverityOverride::Warning => Some(Severity::Warning),
            SeverityOverride::Info => Some(Severity::Info),
            SeverityOverride::Off => None,
        }
    }
}

/// A `--policy` file: more (or replacement) catalog entries and check severities.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub components: Vec<Entry>,
    #[serde(default)]
    pub checks: BTreeMap<CheckId, SeverityOverride>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl Policy {
    pub fn from_file(path: &std::path::Path) -> Result<Policy, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Io {
            path: path.display().to_string(),
            source,
        })?;
        pg_yaml::from_str(&text).map_err(|message| CatalogError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Catalog {
    entries: Vec<Entry>,
}

impl Catalog {
    /// The catalog compiled into the binary.
    pub fn builtin() -> Catalog {
        #[derive(Deserialize)]
        struct File {
            components: Vec<Entry>,
        }
        let file: File = pg_yaml::from_str(BUILTIN).expect("catalog.yaml is valid (tested)");
        Catalog {
            entries: file.components,
        }
    }

    /// Adds a policy's entries: one with a known id replaces it in place, new ones go before
    /// the heuristics so that they win over them.
    pub fn extend(&mut self, extra: &[Entry]) {
        for e in extra {
            match self.entries.iter_mut().find(|x| x.id == e.id) {
                Some(slot) => *slot = e.clone(),
                None => self.entries.insert(0, e.clone()),
            }
        }
    }

    /// The label keys any entry matches on: the only labels worth keeping in memory.
    pub fn label_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .entries
            .iter()
            .flat_map(|e| &e.labels)
            .map(|l| l.split_once('=').map_or(l.as_str(), |(k, _)| k).to_string())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The component `w` is, if the catalog knows it.
    pub fn classify(&self, w: &Workload) -> Option<ComponentMatch> {
        self.entries.iter().find_map(|e| {
            e.matches(w).map(|matched_by| ComponentMatch {
                id: e.id.clone(),
                name: e.name.clone(),
                role: e.role,
                recommended_class: e.recommended_class().to_string(),
                matched_by,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_ids_are_unique() {
        let c = Catalog::builtin();
        let mut ids: Vec<&str> = c.entries().iter().map(|e| e.id.as_str()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(n >= 25);
    }

    #[test]
    fn repositories() {
        assert_eq!(
            repository("ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot-thick"),
            Some("ghcr.io/k8snetworkplumbingwg/multus-cni")
        );
        assert_eq!(
            repository("localhost:5000/kube-proxy"),
            Some("localhost:5000/kube-proxy")
        );
        assert_eq!(
            repository("registry.k8s.io/kube-proxy:v1.34.0@sha256:ab"),
            Some("registry.k8s.io/kube-proxy")
        );
        assert!(repository_matches("calico/node", "quay.io/calico/node"));
        assert!(!repository_matches("calico/node", "quay.io/other/node"));
        assert!(repository_matches(
            "multus-cni",
            "ghcr.io/k8snetworkplumbingwg/multus-cni"
        ));
    }
}
