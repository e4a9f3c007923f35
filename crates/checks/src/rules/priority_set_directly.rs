//! `priority-set-directly`: `spec.priority` written by hand in a template.

use super::Draft;
use pg_model::{CheckId, Workload, WorkloadKind};

pub fn check(w: &Workload) -> Option<Draft> {
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
