//! Structural signals: critical components recognised by what their pods do on the node or
//! for the API server (the kubelet directories they mount, the sidecars they run, the
//! webhooks that route to them), whatever they are called.

use crate::entry::{Subject, at_or_under};
use crate::glob::glob_match;
use pg_model::{Role, SYSTEM_CLUSTER_CRITICAL, SYSTEM_NODE_CRITICAL, WorkloadKind};
use serde::Deserialize;

/// One structural signal. Every condition it states must hold; within a list, any item.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    pub id: String,
    /// What the workload is taken to be.
    pub name: String,
    pub role: Role,
    /// Why the structure means that, appended to what was seen.
    pub why: String,
    pub source: String,
    /// A weaker signal: its findings are warnings saying "likely critical".
    #[serde(default)]
    pub likely: bool,
    #[serde(default)]
    pub kinds: Vec<WorkloadKind>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// hostPath volumes some container mounts, at or under one of these paths.
    #[serde(default)]
    pub mounts: Vec<String>,
    /// The mount must be writable (some container mounts it without `readOnly`).
    #[serde(default)]
    pub writable: bool,
    /// A container whose name, or the last segment of whose image repository, matches.
    #[serde(default)]
    pub containers: Vec<String>,
    #[serde(default)]
    pub host_network: bool,
    /// A container adds one of these capabilities, or is privileged.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// A container declares one of these ports (container or host port).
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Some container mounts a hostPath volume, whatever its path.
    #[serde(default)]
    pub host_mount: bool,
    /// A Pod that no controller owns, read from a file: the shape of a static pod manifest.
    #[serde(default)]
    pub standalone: bool,
    /// A fail-closed webhook intercepting pods routes to the workload through a Service.
    #[serde(default)]
    pub webhook: bool,
}

impl Signal {
    pub fn recommended_class(&self) -> &str {
        match self.role {
            Role::NodeAgent => SYSTEM_NODE_CRITICAL,
            Role::ClusterService => SYSTEM_CLUSTER_CRITICAL,
        }
    }

    /// What was seen in the workload `s` describes, if every condition holds. `webhooks`
    /// describes the fail-closed webhooks that route to it (only the checks, which see the
    /// whole input, know them).
    pub(crate) fn matches(&self, s: &Subject<'_>, webhooks: &[String]) -> Option<String> {
        let w = s.workload;
        let mut seen: Vec<String> = Vec::new();
        if !self.kinds.is_empty() && !self.kinds.contains(&s.kind) {
            return None;
        }
        if !self.namespaces.is_empty() {
            let ns = w.namespace_or_default();
            if !self.namespaces.iter().any(|n| n == ns) {
                return None;
            }
            seen.push(format!("in namespace {ns}"));
        }
        let structure = w.pod.structure.as_deref();
        if !self.mounts.is_empty() {
            let mount = structure?.host_mounts.iter().find(|m| {
                (m.writable || !self.writable)
                    && self.mounts.iter().any(|p| at_or_under(&m.path, p))
            })?;
            let how = if self.writable { "writable " } else { "" };
            seen.push(format!("mounts {how}hostPath {}", mount.path));
        }
        if self.standalone {
            if w.kind != WorkloadKind::Pod || w.owner.is_some() || w.from_api {
                return None;
            }
            seen.push("a Pod no controller owns".to_string());
        }
        if self.host_mount {
            let mount = structure?.host_mounts.first()?;
            seen.push(format!("mounts hostPath {}", mount.path));
        }
        if !self.containers.is_empty() {
            let (c, _) = w
                .pod
                .containers
                .iter()
                .zip(&s.repositories)
                .find(|(c, repo)| {
                    let last = repo
                        .map(|r| r.rsplit('/').next().unwrap_or(r))
                        .unwrap_or("");
                    self.containers
                        .iter()
                        .any(|p| glob_match(p, &c.name) || glob_match(p, last))
                })?;
            seen.push(format!("runs container {} ({})", c.name, c.image));
        }
        if self.host_network {
            if !w.pod.host_network {
                return None;
            }
            seen.push("hostNetwork".to_string());
        }
        if !self.capabilities.is_empty() {
            let containers = &structure?.containers;
            let added = containers
                .iter()
                .flat_map(|c| &c.added_capabilities)
                .find(|cap| {
                    let cap = cap.strip_prefix("CAP_").unwrap_or(cap);
                    self.capabilities.iter().any(|want| want == cap)
                });
            match added {
                Some(cap) => seen.push(format!("adds capability {cap}")),
                None if containers.iter().any(|c| c.privileged) => {
                    seen.push("runs a privileged container".to_string())
                }
                None => return None,
            }
        }
        if !self.ports.is_empty() {
            let port = structure?
                .containers
                .iter()
                .flat_map(|c| &c.ports)
                .find(|p| self.ports.contains(p))?;
            seen.push(format!("serves port {port}"));
        }
        if self.webhook {
            if webhooks.is_empty() {
                return None;
            }
            seen.push(webhooks.join("; "));
        }
        (!seen.is_empty()).then(|| format!("{}: {}", seen.join(", "), self.why))
    }
}
