//! `priority-set-directly`: `spec.priority` written by hand in a template.

use super::{Draft, Rule, Scope, Subject};
use crate::context::Context;
use pg_model::{CheckId, WorkloadKind};

pub(crate) static RULE: Rule = Rule {
    id: CheckId::PrioritySetDirectly,
    fixable: true,
    scope: Scope::Workload(check),
};

fn check(s: &Subject<'_>, _ctx: &Context) -> Option<Draft> {
    let w = s.workload;
    let value = w.pod.priority?;
    // The API server fills in `spec.priority` on every pod it stores.
    if w.kind == WorkloadKind::Pod && w.from_api {
        return None;
    }
    let mut d = Draft::new(
        CheckId::PrioritySetDirectly,
        w,
        format!(
            "spec.priority is set to {value} by hand; the API server rejects it unless it equals the class's value. Remove it and use priorityClassName"
        ),
    );
    d.location = w.pod.priority_location().cloned().or(d.location);
    Some(d)
}
