use crate::{
    CheckId, ClassRef, ClusterRef, ComponentMatch, Finding, Location, ObjectRef, Severity,
};
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
    /// The cluster of a multi-cluster run; `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRef>,
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

impl Stats {
    /// Adds another input's counts (another cluster's, in a multi-cluster run).
    pub fn add(&mut self, other: &Stats) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.documents += other.documents;
        self.workloads += other.workloads;
        self.pods += other.pods;
        self.priority_classes += other.priority_classes;
        self.not_kubernetes += other.not_kubernetes;
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One cluster of a multi-cluster run: which it is, what its audit found, or why it could not
/// be audited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterSummary {
    #[serde(flatten)]
    pub cluster: ClusterRef,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    /// Critical components found, and how many of them lack the class they need.
    pub components: usize,
    pub unprotected: usize,
    pub workloads: u64,
    pub pods: u64,
    /// Why the cluster could not be read (then it has no findings); `None` when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl ClusterSummary {
    fn new(cluster: ClusterRef) -> ClusterSummary {
        ClusterSummary {
            cluster,
            errors: 0,
            warnings: 0,
            infos: 0,
            components: 0,
            unprotected: 0,
            workloads: 0,
            pods: 0,
            failure: None,
        }
    }
}

/// Everything an audit produced, in the order reporters print it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub components: Vec<ComponentStatus>,
    pub problems: Vec<InputProblem>,
    pub stats: Stats,
    /// One summary per cluster, in the order they were named, when one run audits several
    /// clusters; empty for files and a single cluster.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<ClusterSummary>,
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

    /// Adds one cluster's audit to a multi-cluster report: its findings and components tagged
    /// with `cluster`, its problems and counts added, and its summary.
    pub fn add_cluster(&mut self, cluster: ClusterRef, part: Report) {
        let mut summary = ClusterSummary::new(cluster.clone());
        summary.errors = part.count(Severity::Error);
        summary.warnings = part.count(Severity::Warning);
        summary.infos = part.count(Severity::Info);
        summary.components = part.components.len();
        summary.unprotected = part.components.iter().filter(|c| !c.protected).count();
        summary.workloads = part.stats.workloads;
        summary.pods = part.stats.pods;
        self.findings.extend(part.findings.into_iter().map(|mut f| {
            f.cluster = Some(cluster.clone());
            f
        }));
        self.components
            .extend(part.components.into_iter().map(|mut c| {
                c.cluster = Some(cluster.clone());
                c
            }));
        self.problems.extend(part.problems);
        self.stats.add(&part.stats);
        self.clusters.push(summary);
    }

    /// Records a cluster that could not be read: a summary saying why, and an input error
    /// (`context "NAME"`) so every format shows that the run is incomplete.
    pub fn add_failed_cluster(&mut self, cluster: ClusterRef, reason: String) {
        self.problems.push(InputProblem {
            source: Report::failed_cluster_source(&cluster),
            message: reason.clone(),
            skipped: false,
        });
        let mut summary = ClusterSummary::new(cluster);
        summary.failure = Some(reason);
        self.clusters.push(summary);
    }

    /// How the input problem of a cluster that could not be read names it: `context "NAME"`.
    pub fn failed_cluster_source(cluster: &ClusterRef) -> String {
        format!("context \"{}\"", cluster.context)
    }

    /// The clusters that could not be read.
    pub fn failed_clusters(&self) -> usize {
        self.clusters.iter().filter(|c| c.failure.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity) -> Finding {
        Finding {
            check: CheckId::CriticalWithoutPriority,
            severity,
            message: "m".into(),
            object: ObjectRef {
                kind: "DaemonSet".into(),
                namespace: Some("kube-system".into()),
                name: "kube-multus-ds".into(),
            },
            object_inferred: false,
            location: None,
            component: None,
            current_class: None,
            recommended_class: None,
            pods: Vec::new(),
            risk: None,
            cluster: None,
            managed_by: None,
        }
    }

    #[test]
    fn clusters_are_tagged_counted_and_failures_recorded() {
        let a = ClusterRef {
            context: "a".into(),
            server: "https://a:6443".into(),
        };
        let b = ClusterRef {
            context: "b".into(),
            server: String::new(),
        };
        let mut fleet = Report::default();
        let part = Report {
            findings: vec![finding(Severity::Error), finding(Severity::Info)],
            stats: Stats {
                workloads: 2,
                pods: 5,
                ..Stats::default()
            },
            ..Report::default()
        };
        fleet.add_cluster(a.clone(), part.clone());
        fleet.add_failed_cluster(b.clone(), "cannot reach it".into());
        assert!(
            fleet
                .findings
                .iter()
                .all(|f| f.cluster.as_ref() == Some(&a))
        );
        assert_eq!(fleet.stats.pods, 5);
        assert_eq!(fleet.clusters[0].errors, 1);
        assert_eq!(fleet.clusters[0].infos, 1);
        assert_eq!(
            fleet.clusters[1].failure.as_deref(),
            Some("cannot reach it")
        );
        assert_eq!(fleet.failed_clusters(), 1);
        assert_eq!(fleet.errors().next().unwrap().source, "context \"b\"");
        assert_eq!(b.to_string(), "b");
        assert_eq!(a.to_string(), "a (https://a:6443)");
    }
}
