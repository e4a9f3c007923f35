//! `critical-class-too-weak`: a critical component's class is below what its role needs.

use super::{Draft, Rule, Scope, Subject};
use crate::context::Context;
use pg_model::{CheckId, SYSTEM_CLUSTER_CRITICAL, SYSTEM_CRITICAL_THRESHOLD};

pub(crate) static RULE: Rule = Rule {
    id: CheckId::CriticalClassTooWeak,
    fixable: true,
    scope: Scope::Workload(check),
};

fn check(s: &Subject<'_>, ctx: &Context) -> Option<Draft> {
    let w = s.workload;
    let c = s.component?;
    let name = w.pod.priority_class.effective_name()?;
    let have = ctx.class_value(name)?;
    let want = ctx.class_value(&c.recommended_class)?;
    if have >= want || w.mirror {
        return None;
    }
    let why = if have < SYSTEM_CRITICAL_THRESHOLD {
        format!(
            "value {have} is below the kubelet's critical threshold {SYSTEM_CRITICAL_THRESHOLD}: its pods can still be evicted under node pressure and get no OOM protection"
        )
    } else if name == SYSTEM_CLUSTER_CRITICAL {
        "system-cluster-critical gives no OOM protection (only system-node-critical gets oom_score_adj -997) and a pending system-node-critical pod may preempt it".to_string()
    } else {
        format!("value {have} is below {want}")
    };
    let mut d = Draft::new(
        CheckId::CriticalClassTooWeak,
        w,
        format!(
            "{} ({}) uses class {name}, weaker than {}: {why}",
            c.name,
            c.role.as_str(),
            c.recommended_class
        ),
    );
    d.recommended_class = Some(c.recommended_class.clone());
    d.component = Some(c.clone());
    Some(d)
}
