use crate::{Location, ManagedBy, ObjectRef};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stable identifiers of priorityguard's checks (see `priorityguard catalog`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    CriticalWithoutPriority,
    CriticalClassTooWeak,
    UnknownPriorityClass,
    InvalidPriorityClass,
    PrioritySetDirectly,
    CriticalCannotPreempt,
    SystemClassQuota,
    NoPriority,
}

impl CheckId {
    pub const ALL: [CheckId; 8] = [
        CheckId::CriticalWithoutPriority,
        CheckId::CriticalClassTooWeak,
        CheckId::UnknownPriorityClass,
        CheckId::InvalidPriorityClass,
        CheckId::PrioritySetDirectly,
        CheckId::CriticalCannotPreempt,
        CheckId::SystemClassQuota,
        CheckId::NoPriority,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::CriticalWithoutPriority => "critical-without-priority",
            CheckId::CriticalClassTooWeak => "critical-class-too-weak",
            CheckId::UnknownPriorityClass => "unknown-priority-class",
            CheckId::InvalidPriorityClass => "invalid-priority-class",
            CheckId::PrioritySetDirectly => "priority-set-directly",
            CheckId::CriticalCannotPreempt => "critical-cannot-preempt",
            CheckId::SystemClassQuota => "system-class-quota",
            CheckId::NoPriority => "no-priority",
        }
    }

    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == id)
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a critical component runs on every node or serves the cluster as a whole; this
/// decides the class it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    NodeAgent,
    ClusterService,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::NodeAgent => "node-agent",
            Role::ClusterService => "cluster-service",
        }
    }
}

/// Why a workload counts as critical: the catalog entry it matched and on what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComponentMatch {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub recommended_class: String,
    /// e.g. `image ghcr.io/k8snetworkplumbingwg/multus-cni` or `hostPath /etc/cni/net.d`.
    pub matched_by: String,
    /// The most a finding about it may say: `warning` when it is only likely critical (a
    /// weaker structural signal), unless the policy file says otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Recognised by a weaker structural signal: "likely critical".
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub likely: bool,
}

impl ComponentMatch {
    /// Recognised by its structure rather than by a catalog entry's name: findings then say
    /// what was seen.
    pub fn by_signal(&self) -> bool {
        self.matched_by.starts_with("signal ")
    }
}

/// A pod folded into its owner's finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PodRef {
    pub namespace: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// The live cluster something was found in, when one run audits several (`audit --cluster
/// --context a,b` or `--all-contexts`). Files and single-cluster runs leave it out, so their
/// output is what it always was.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ClusterRef {
    /// The kubeconfig context.
    pub context: String,
    /// The API server's URL from the kubeconfig; empty when the context could not be resolved.
    pub server: String,
}

impl fmt::Display for ClusterRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.server.is_empty() {
            write!(f, "{}", self.context)
        } else {
            write!(f, "{} ({})", self.context, self.server)
        }
    }
}

/// One problem with one workload (pods of the same owner are grouped into it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: CheckId,
    pub severity: Severity,
    pub message: String,
    /// The workload (or PriorityClass, ResourceQuota) the finding is about.
    pub object: ObjectRef,
    /// True when `object` was not in the input but named by pods' owner references.
    pub object_inferred: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentMatch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended_class: Option<String>,
    /// Pods (from pod lists) that this finding covers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<PodRef>,
    /// What the kubelet would do to the pods as they stand and after the fix, e.g. "evicted
    /// 3rd of 41 under memory pressure on node-a; immune after fix"; only when the input
    /// has nodes to simulate on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    /// The cluster of a multi-cluster run; `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRef>,
    /// The Helm release or GitOps object that applies the workload: the class must be changed
    /// in its source, since a patch of the live object is undone by its next upgrade or sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<Box<ManagedBy>>,
}
