//! Phrases several formats share, so a finding reads the same in a terminal, a PR comment and a
//! CI test report.

use pg_model::{
    ClassRef, ClusterSummary, ComponentMatch, Finding, PodRef, Report, Role, Severity, Stats,
};
use std::fmt::Write as _;

/// How many pod names a grouped finding lists before it only counts the rest.
const MAX_POD_NAMES: usize = 5;

/// `"1 error"`, `"2 errors"`.
pub(crate) fn count(n: u64, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// `"3 errors, 1 warning, 0 info"`.
pub(crate) fn severity_counts(report: &Report) -> String {
    let n = |s| report.count(s);
    counts(n(Severity::Error), n(Severity::Warning), n(Severity::Info))
}

/// `"3 errors, 1 warning, 0 info"` from the counts.
pub(crate) fn counts(errors: usize, warnings: usize, infos: usize) -> String {
    format!(
        "{}, {}, {infos} info",
        count(errors as u64, "error", "errors"),
        count(warnings as u64, "warning", "warnings"),
    )
}

/// One cluster of a multi-cluster report, in a line: `"2 errors, 0 warnings, 0 info in
/// 3 workloads / 9 pods; 2 critical components, 1 unprotected"`, or why it was not read.
pub(crate) fn cluster_line(c: &ClusterSummary) -> String {
    if let Some(failure) = &c.failure {
        return format!("not read: {failure}");
    }
    format!(
        "{} in {} / {}; {}, {} unprotected",
        counts(c.errors, c.warnings, c.infos),
        count(c.workloads, "workload", "workloads"),
        count(c.pods, "pod", "pods"),
        count(
            c.components as u64,
            "critical component",
            "critical components"
        ),
        c.unprotected
    )
}

/// `"3 clusters"`, `"3 clusters (1 not read)"`.
pub(crate) fn clusters(report: &Report) -> String {
    let failed = report.failed_clusters();
    let mut s = count(report.clusters.len() as u64, "cluster", "clusters");
    if failed > 0 {
        write!(s, " ({failed} not read)").unwrap();
    }
    s
}

/// `"12 workloads / 40 pods from 5 files"`; a live cluster has no files, so none are counted.
pub(crate) fn scope(stats: &Stats) -> String {
    let mut s = format!(
        "{} / {}",
        count(stats.workloads, "workload", "workloads"),
        count(stats.pods, "pod", "pods")
    );
    if stats.files > 0 {
        write!(s, " from {}", count(stats.files, "file", "files")).unwrap();
    }
    s
}

/// `"none -> system-node-critical"`, `"my-class"`; `None` when the finding names no class at all
/// (e.g. a finding about a PriorityClass itself).
pub(crate) fn class_change(finding: &Finding) -> Option<String> {
    let current = finding.current_class.as_deref();
    match (current, finding.recommended_class.as_deref()) {
        (None, None) => None,
        (Some(current), None) => Some(current.to_string()),
        (current, Some(recommended)) => {
            Some(format!("{} -> {recommended}", current.unwrap_or("none")))
        }
    }
}

/// `"Multus (node agent), matched by image ghcr.io/k8snetworkplumbingwg/multus-cni"`.
pub(crate) fn component(component: &ComponentMatch) -> String {
    let role = match component.role {
        Role::NodeAgent => "node agent",
        Role::ClusterService => "cluster service",
    };
    format!(
        "{} ({role}), matched by {}",
        component.name, component.matched_by
    )
}

/// `"7 pods: a, b, c, d, e (+2 more)"`: enough names to find the pods, never a wall of them.
pub(crate) fn pods(pods: &[PodRef]) -> String {
    format!("{}: {}", pod_count(pods), pod_names(pods))
}

/// `"7 pods"`.
pub(crate) fn pod_count(pods: &[PodRef]) -> String {
    count(pods.len() as u64, "pod", "pods")
}

/// `"a, b, c, d, e (+2 more)"`.
pub(crate) fn pod_names(pods: &[PodRef]) -> String {
    let mut s = String::new();
    for (i, pod) in pods.iter().take(MAX_POD_NAMES).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&pod.name);
    }
    if pods.len() > MAX_POD_NAMES {
        write!(s, " (+{} more)", pods.len() - MAX_POD_NAMES).unwrap();
    }
    s
}

/// What a pod spec says about its class, as a person would say it.
pub(crate) fn class_ref(class: &ClassRef) -> String {
    match class {
        ClassRef::Missing => "no priorityClassName".to_string(),
        ClassRef::Empty => "empty priorityClassName".to_string(),
        ClassRef::Literal { name } => name.clone(),
        ClassRef::Templated {
            expression,
            default: Some(default),
        } => format!("{expression} (default {default})"),
        ClassRef::Templated {
            expression,
            default: None,
        } => format!("{expression} (no default)"),
    }
}
