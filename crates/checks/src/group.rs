//! Folds per-object findings into one finding per owning workload.

use crate::context::Context;
use crate::rules::Draft;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use pg_model::{
    CheckId, ComponentMatch, ComponentStatus, Finding, ObjectRef, PodRef, Severity, WorkloadKind,
};
use std::sync::Arc;

/// Merges each finding into its group as it is produced, so that a pod list never holds one
/// draft per pod.
pub struct Folder<'c, 'a> {
    ctx: &'c Context<'a>,
    findings: Vec<Finding>,
    /// (check, group object, its file) -> index in `findings`
    index: HashMap<(CheckId, ObjectRef, Option<Arc<str>>), usize>,
    /// Whether `findings[i]` already speaks with the owner's own voice.
    from_owner: Vec<bool>,
}

impl<'c, 'a> Folder<'c, 'a> {
    pub fn new(ctx: &'c Context<'a>) -> Self {
        Folder {
            ctx,
            findings: Vec::new(),
            index: HashMap::new(),
            from_owner: Vec::new(),
        }
    }

    /// Folds `draft` into its group's finding; returns that finding's index and whether the
    /// subject is the group's own object (not a pod folded into it).
    pub fn add(&mut self, subject: usize, severity: Severity, draft: Draft) -> (usize, bool) {
        let group = self.ctx.group(subject);
        let w = self.ctx.workload(subject);
        let is_group_object = group.subject == Some(subject);
        let pod = (w.kind == WorkloadKind::Pod && !is_group_object).then(|| PodRef {
            namespace: w.namespace.clone(),
            name: w.name.clone(),
            location: w.location.clone(),
        });
        // The group's own object says which tool deploys it: its pods carry no such marks.
        let managed_by = group
            .subject
            .and_then(|s| self.ctx.workload(s).managed_by.clone());
        let key = (draft.check, group.object, group.file);
        match self.index.get(&key) {
            Some(&i) => {
                let f = &mut self.findings[i];
                f.pods.extend(pod);
                // The owner's own finding speaks for the group: its location and classes.
                if is_group_object && !self.from_owner[i] {
                    let pods = std::mem::take(&mut f.pods);
                    *f = draft.into_finding(severity, key.1, false);
                    f.pods = pods;
                    f.managed_by = managed_by;
                    self.from_owner[i] = true;
                }
                (i, is_group_object)
            }
            None => {
                let inferred = group.subject.is_none();
                let mut f = draft.into_finding(severity, key.1.clone(), inferred);
                f.pods.extend(pod);
                f.managed_by = managed_by;
                let i = self.findings.len();
                self.index.insert(key, i);
                self.findings.push(f);
                self.from_owner.push(is_group_object);
                (i, is_group_object)
            }
        }
    }

    /// Folds pod `subject` into findings it was already found to belong to (see
    /// [`crate::audit`]): what [`Folder::add`] would do for a pod that is not its group's object
    /// and whose group already has these findings.
    pub fn add_pod(&mut self, subject: usize, findings: &[usize]) {
        let w = self.ctx.workload(subject);
        for &i in findings {
            self.findings[i].pods.push(PodRef {
                namespace: w.namespace.clone(),
                name: w.name.clone(),
                location: w.location.clone(),
            });
        }
    }

    pub fn finish(self) -> Vec<Finding> {
        self.findings
    }
}

/// One status line per critical workload (pods folded into their owners).
pub fn components(ctx: &Context) -> Vec<ComponentStatus> {
    let mut seen: HashSet<(ObjectRef, Option<Arc<str>>)> = HashSet::new();
    let mut same_pods: HashSet<crate::PodKey> = HashSet::new();
    let mut out = Vec::new();
    for (subject, w) in ctx.workloads() {
        let Some(component) = ctx.component(subject) else {
            continue;
        };
        // Pods alike (same owner, same facts, same file) are in the same group.
        if crate::PodKey::of(w).is_some_and(|k| !same_pods.insert(k)) {
            continue;
        }
        let group = ctx.group(subject);
        if !seen.insert((group.object.clone(), group.file.clone())) {
            continue;
        }
        let representative = group.subject.map_or(w, |s| ctx.workload(s));
        let protected = representative
            .pod
            .priority_class
            .effective_name()
            .and_then(|n| ctx.class_value(n))
            .zip(ctx.class_value(&component.recommended_class))
            .is_some_and(|(have, want)| have >= want)
            || representative.mirror;
        out.push(ComponentStatus {
            object: group.object,
            location: representative.location.clone(),
            component: ComponentMatch::clone(component),
            class: representative.pod.priority_class.clone(),
            protected,
            cluster: None,
        });
    }
    out
}
