//! The order people read findings in: the worst workloads first, then by where they are written.

use pg_model::{ClusterRef, Finding, Location, ObjectRef, Report, Severity};
use std::cmp::Ordering;
use std::collections::HashMap;

/// The findings about one workload (or PriorityClass, ResourceQuota).
pub(crate) struct Group<'a> {
    /// The cluster, in a multi-cluster report.
    pub cluster: Option<&'a ClusterRef>,
    pub object: &'a ObjectRef,
    pub findings: Vec<&'a Finding>,
}

impl Group<'_> {
    fn severity(&self) -> Severity {
        self.findings[0].severity
    }

    fn location(&self) -> Option<&Location> {
        self.findings.iter().find_map(|f| f.location.as_ref())
    }

    /// True when no finding saw the object itself, only pods naming it as their owner.
    pub fn inferred(&self) -> bool {
        self.findings.iter().all(|f| f.object_inferred)
    }
}

/// Groups findings by object (and cluster). Groups come in the report's cluster order, then
/// errors first, then by their first location (file objects before cluster objects), then by
/// name; within a group, errors first, then by location.
pub(crate) fn groups(report: &Report) -> Vec<Group<'_>> {
    let mut index: HashMap<(Option<&ClusterRef>, &ObjectRef), usize> = HashMap::new();
    let mut groups: Vec<Group<'_>> = Vec::new();
    for finding in &report.findings {
        let key = (finding.cluster.as_ref(), &finding.object);
        let i = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                cluster: finding.cluster.as_ref(),
                object: &finding.object,
                findings: Vec::new(),
            });
            groups.len() - 1
        });
        groups[i].findings.push(finding);
    }
    for group in &mut groups {
        group.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| cmp_location(a.location.as_ref(), b.location.as_ref()))
                .then_with(|| a.check.cmp(&b.check))
        });
    }
    let rank = cluster_rank(report);
    groups.sort_by(|a, b| {
        rank(a.cluster)
            .cmp(&rank(b.cluster))
            .then_with(|| b.severity().cmp(&a.severity()))
            .then_with(|| cmp_location(a.location(), b.location()))
            .then_with(|| a.object.cmp(b.object))
    });
    groups
}

/// A cluster's position in the report's cluster list (0 for everything outside clusters).
pub(crate) fn cluster_rank(report: &Report) -> impl Fn(Option<&ClusterRef>) -> usize + '_ {
    let positions: HashMap<&str, usize> = report
        .clusters
        .iter()
        .enumerate()
        .map(|(i, c)| (c.cluster.context.as_str(), i))
        .collect();
    move |cluster| {
        cluster
            .and_then(|c| positions.get(c.context.as_str()).copied())
            .unwrap_or(0)
    }
}

/// The findings in group order, for formats that list them flat.
pub(crate) fn sorted(report: &Report) -> Vec<&Finding> {
    groups(report)
        .into_iter()
        .flat_map(|g| g.findings)
        .collect()
}

/// Findings with a file location sort before those without (cluster objects).
fn cmp_location(a: Option<&Location>, b: Option<&Location>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}
