//! Folds per-object findings into one finding per owning workload.

use crate::context::Context;
use crate::rules::Draft;
use pg_model::{CheckId, ComponentStatus, Finding, ObjectRef, PodRef, Severity, WorkloadKind};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub fn fold(ctx: &Context, drafts: Vec<(usize, Severity, Draft)>) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    // (check, group object, its file) -> index in `findings`
    let mut index: HashMap<(CheckId, ObjectRef, Option<Arc<str>>), usize> = HashMap::new();
    let mut from_owner: Vec<bool> = Vec::new();
    for (subject, severity, draft) in drafts {
        let group = ctx.group(subject);
        let w = ctx.workload(subject);
        let is_group_object = group.subject == Some(subject);
        let pod = (w.kind == WorkloadKind::Pod && !is_group_object).then(|| PodRef {
            namespace: w.namespace.clone(),
            name: w.name.clone(),
            location: w.location.clone(),
        });
        let key = (draft.check, group.object.clone(), group.file.clone());
        match index.get(&key) {
            Some(&i) => {
                let f = &mut findings[i];
                f.pods.extend(pod);
                // The owner's own finding speaks for the group: its location and classes.
                if is_group_object && !from_owner[i] {
                    let pods = std::mem::take(&mut f.pods);
                    *f = draft.into_finding(severity, group.object, false);
                    f.pods = pods;
                    from_owner[i] = true;
                }
            }
            None => {
                let inferred = group.subject.is_none();
                let mut f = draft.into_finding(severity, group.object, inferred);
                f.pods.extend(pod);
                index.insert(key, findings.len());
                findings.push(f);
                from_owner.push(is_group_object);
            }
        }
    }
    findings
}

/// One status line per critical workload (pods folded into their owners).
pub fn components(ctx: &Context) -> Vec<ComponentStatus> {
    let mut seen: HashSet<(ObjectRef, Option<Arc<str>>)> = HashSet::new();
    let mut out = Vec::new();
    for (subject, w) in ctx.workloads() {
        let Some(component) = ctx.component(subject) else {
            continue;
        };
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
            component: component.clone(),
            class: representative.pod.priority_class.clone(),
            protected,
        });
    }
    out
}
