//! `unknown-priority-class`: the class is neither built in nor defined; the Priority
//! admission plugin will reject the pods.

use super::{Draft, Rule, Scope, Subject};
use crate::context::Context;
use pg_model::{CheckId, ClassRef, WorkloadKind};

pub(crate) static RULE: Rule = Rule {
    id: CheckId::UnknownPriorityClass,
    fixable: false,
    scope: Scope::Workload(check),
};

fn check(s: &Subject<'_>, ctx: &Context) -> Option<Draft> {
    let w = s.workload;
    let name = w.pod.priority_class.effective_name()?;
    if ctx.class_exists(name) {
        return None;
    }
    let templated = matches!(w.pod.priority_class, ClassRef::Templated { .. });
    let what = if templated {
        format!("the template's default class {name:?}")
    } else {
        format!("priorityClassName {name:?}")
    };
    let consequence = match (w.kind, w.from_api) {
        (WorkloadKind::Pod, true) => {
            "this pod predates the class's deletion; its replacements will be rejected"
        }
        (WorkloadKind::Pod, false) => "the API server will reject this pod",
        _ => "the API server will reject its pods (FailedCreate events, no pods at all)",
    };
    Some(Draft::new(
        CheckId::UnknownPriorityClass,
        w,
        format!("{what} names no PriorityClass in the input and is not built in: {consequence}"),
    ))
}
