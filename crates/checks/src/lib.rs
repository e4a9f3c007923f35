//! priorityguard's checks. One module per check under `rules`, registered in `rules::ALL`,
//! metadata in `checks.yaml`.
//!
//! [`audit`] runs every enabled check on every object, then folds findings about pods into
//! one finding per owning workload (Pod -> ReplicaSet -> Deployment, Pod -> DaemonSet, ...).

mod context;
mod group;
mod metadata;
mod rules;

pub use context::{Context, LABELS_USED};
pub use metadata::{checks_info, explanation};

use pg_catalog::{Catalog, Policy};
use pg_model::{
    CheckId, ComponentStatus, Finding, Object, PodSpecFacts, Severity, Workload, WorkloadKind,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The label keys an audit with `catalog` reads: the catalog's and [`LABELS_USED`]. Sources
/// may drop every other label (`keep_labels`), which on a big pod list is most of the memory.
pub fn labels_read(catalog: &Catalog) -> Vec<String> {
    let mut keys = catalog.label_keys();
    keys.extend(LABELS_USED.iter().map(|l| l.to_string()));
    keys
}

/// Whether `priorityguard fix` has a safe, mechanical edit for `id`'s findings, as its rule
/// declares.
pub fn is_fixable(id: CheckId) -> bool {
    rules::ALL.iter().any(|r| r.id == id && r.fixable)
}

/// Which checks run and how loud they are.
#[derive(Clone, Debug)]
pub struct Config {
    severities: BTreeMap<CheckId, Option<Severity>>,
}

impl Config {
    /// Defaults from `checks.yaml`; `no-priority` only with `all`; policy overrides on top.
    pub fn new(all: bool, policy: &Policy) -> Config {
        let mut severities: BTreeMap<CheckId, Option<Severity>> = checks_info()
            .into_iter()
            .map(|c| (c.id, Some(c.severity)))
            .collect();
        if !all {
            severities.insert(CheckId::NoPriority, None);
        }
        for (id, o) in &policy.checks {
            severities.insert(*id, o.severity());
        }
        Config { severities }
    }

    pub fn severity(&self, id: CheckId) -> Option<Severity> {
        self.severities.get(&id).copied().flatten()
    }
}

/// What an audit found.
#[derive(Debug, Default)]
pub struct Audit {
    pub findings: Vec<Finding>,
    pub components: Vec<ComponentStatus>,
}

/// What makes two pods alike for the checks: the same facts (shared by the reader, so compared
/// by address), owner, namespace, file and origin. The checks read nothing else of a pod but its
/// name and line, so pods alike get the same findings, and fold into the same groups.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct PodKey<'a> {
    facts: *const PodSpecFacts,
    namespace: Option<&'a str>,
    owner: (&'a str, &'a str),
    file: Option<*const u8>,
    mirror: bool,
    from_api: bool,
}

impl<'a> PodKey<'a> {
    /// Only pods with an owner: they are the many.
    fn of(w: &'a Workload) -> Option<PodKey<'a>> {
        let owner = w.owner.as_ref()?;
        (w.kind == WorkloadKind::Pod).then(|| PodKey {
            facts: Arc::as_ptr(&w.pod),
            namespace: w.namespace.as_deref(),
            owner: (&owner.kind, &owner.name),
            file: w.location.as_ref().map(|l| l.file.as_ptr()),
            mirror: w.mirror,
            from_api: w.from_api,
        })
    }
}

pub fn audit(objects: &[Object], catalog: &Catalog, config: &Config) -> Audit {
    let ctx = Context::new(objects, catalog);
    let mut folder = group::Folder::new(&ctx);
    // The findings each kind of pod was folded into, to fold the pods alike without checking
    // them again (a pod list is mostly the replicas of a few templates).
    let mut alike: HashMap<PodKey, Vec<usize>> = HashMap::new();
    for (subject, w) in ctx.workloads() {
        let key = PodKey::of(w);
        if let Some(found) = key.as_ref().and_then(|k| alike.get(k)) {
            folder.add_pod(subject, found);
            continue;
        }
        let mut found = Vec::new();
        let mut own_group = false;
        for draft in rules::check_workload(w, subject, &ctx) {
            if let Some(severity) = config.severity(draft.check) {
                // A likely component's findings say at most what its recognition allows.
                let cap = draft.component.as_ref().and_then(|c| c.severity);
                let (i, is_group_object) = folder.add(
                    subject,
                    cap.map_or(severity, |cap| severity.min(cap)),
                    draft,
                );
                found.push(i);
                own_group |= is_group_object;
            }
        }
        if let Some(key) = key.filter(|_| !own_group) {
            alike.insert(key, found);
        }
    }
    let mut findings = folder.finish();
    for def_finding in rules::check_input(&ctx) {
        if let Some(severity) = config.severity(def_finding.check) {
            findings.push(Finding {
                severity,
                ..def_finding
            });
        }
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.location.cmp(&b.location))
            .then_with(|| a.object.cmp(&b.object))
            .then_with(|| a.check.cmp(&b.check))
    });
    Audit {
        findings,
        components: group::components(&ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sources drop every label not listed here, so a key missing from it silently breaks
    /// recognition by label and the grouping of pods by template hash.
    #[test]
    fn labels_read_are_the_catalogs_and_the_checks_own() {
        let catalog = Catalog::builtin();
        let keys = labels_read(&catalog);
        let wanted = catalog.label_keys();
        assert!(!wanted.is_empty());
        for key in wanted
            .iter()
            .map(String::as_str)
            .chain(LABELS_USED.iter().copied())
        {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
        assert!(keys.iter().all(|k| !k.is_empty()), "{keys:?}");
    }
}
