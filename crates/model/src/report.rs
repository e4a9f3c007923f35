use crate::{CheckId, ClassRef, ComponentMatch, Finding, Location, ObjectRef, Severity};
use serde::Serialize;

/// A check's documentation, as reporters need it (SARIF rules, help links, `--explain`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckInfo {
    pub id: CheckId,
    pub severity: Severity,
    pub summary: String,
    pub explanation: String,
}

/// A critical workload found in the input, whether or not it has a problem: the answer to
/// "which of my workloads matter, and are they protected?".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComponentStatus {
    pub object: ObjectRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    pub component: ComponentMatch,
    pub class: ClassRef,
    pub protected: bool,
}

/// An input that could not be read, or was skipped on purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputProblem {
    /// `path`, `path:line` or `path:line:column`, or an API object.
    pub source: String,
    pub message: String,
    /// Skips (binary or hidden files) are notes; everything else is an error.
    pub skipped: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub files: u64,
    pub bytes: u64,
    pub documents: u64,
    pub workloads: u64,
    pub pods: u64,
    pub priority_classes: u64,
    /// YAML and JSON documents in a walk that are not Kubernetes objects (Ansible plays, CI
    /// configs, values files, JSON schemas), skipped.
    #[serde(skip_serializing_if = "is_zero")]
    pub not_kubernetes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Everything an audit produced, in the order reporters print it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub components: Vec<ComponentStatus>,
    pub problems: Vec<InputProblem>,
    pub stats: Stats,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    pub fn errors(&self) -> impl Iterator<Item = &InputProblem> {
        self.problems.iter().filter(|p| !p.skipped)
    }
}
