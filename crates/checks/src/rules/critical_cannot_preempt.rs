//! `critical-cannot-preempt`: a node agent whose class may not preempt cannot land on a full
//! node.

use super::{Draft, Rule, Scope, Subject};
use crate::context::Context;
use pg_model::{CheckId, Role};

pub(crate) static RULE: Rule = Rule {
    id: CheckId::CriticalCannotPreempt,
    fixable: false,
    scope: Scope::Workload(check),
};

fn check(s: &Subject<'_>, ctx: &Context) -> Option<Draft> {
    let w = s.workload;
    let c = s.component.filter(|c| c.role == Role::NodeAgent)?;
    let class = w.pod.priority_class.effective_name();
    let class_never = class
        .and_then(|n| ctx.class_def(n))
        .and_then(|d| d.preemption_policy.as_deref())
        == Some("Never");
    let pod_never = w.pod.preemption_never;
    if !class_never && !pod_never {
        return None;
    }
    let mut d = Draft::new(
        CheckId::CriticalCannotPreempt,
        w,
        format!(
            "{} is a node agent but {} preemptionPolicy Never: on a full node its pod stays Pending instead of preempting",
            c.name,
            match class.filter(|_| class_never) {
                Some(n) => format!("its class {n} has"),
                None => "its pod spec sets".to_string(),
            }
        ),
    );
    d.component = Some(c.clone());
    Some(d)
}
