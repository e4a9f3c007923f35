//! priorityguard's checks. One module per check under [`rules`], metadata in `checks.yaml`.
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
use pg_model::{CheckId, ComponentStatus, Finding, Object, Severity};
use std::collections::BTreeMap;

/// The label keys an audit with `catalog` reads: the catalog's and [`LABELS_USED`]. Sources
/// may drop every other label (`keep_labels`), which on a big pod list is most of the memory.
pub fn labels_read(catalog: &Catalog) -> Vec<String> {
    let mut keys = catalog.label_keys();
    keys.extend(LABELS_USED.iter().map(|l| l.to_string()));
    keys
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

pub fn audit(objects: &[Object], catalog: &Catalog, config: &Config) -> Audit {
    let ctx = Context::new(objects, catalog);
    let mut folder = group::Folder::new(&ctx);
    for (subject, w) in ctx.workloads() {
        for draft in rules::check_workload(w, subject, &ctx) {
            if let Some(severity) = config.severity(draft.check) {
                // A likely component's findings say at most what its recognition allows.
                let cap = draft.component.as_ref().and_then(|c| c.severity);
                folder.add(
                    subject,
                    cap.map_or(severity, |cap| severity.min(cap)),
                    draft,
                );
            }
        }
    }
    let mut findings = folder.finish();
    for def_finding in rules::invalid_priority_class::check(&ctx) {
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
