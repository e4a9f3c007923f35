//! `no-priority`: any workload or pod without a class (the classic jq one-liner, grouped).

use super::{Draft, Rule, Scope, Subject};
use crate::context::Context;
use pg_model::CheckId;

pub(crate) static RULE: Rule = Rule {
    id: CheckId::NoPriority,
    fixable: false,
    scope: Scope::Workload(check),
};

fn check(s: &Subject<'_>, _ctx: &Context) -> Option<Draft> {
    let w = s.workload;
    if !w.pod.priority_class.is_unset() {
        return None;
    }
    let mut d = Draft::new(
        CheckId::NoPriority,
        w,
        "no priorityClassName: runs at the global default's value, or 0".to_string(),
    );
    d.location = w.pod.spec_location().or(w.location.as_ref()).cloned();
    Some(d)
}
