//! `critical-without-priority`: a catalogued critical component with no class runs at
//! priority 0, preemptible and evictable like any ordinary pod.

use super::{Draft, Rule, Scope, Subject};
use crate::context::Context;
use pg_model::{CheckId, Role};

pub(crate) static RULE: Rule = Rule {
    id: CheckId::CriticalWithoutPriority,
    fixable: true,
    scope: Scope::Workload(check),
};

fn check(s: &Subject<'_>, _ctx: &Context) -> Option<Draft> {
    let w = s.workload;
    let c = s.component?;
    // The kubelet treats static pods as critical whatever their class.
    if !w.pod.priority_class.is_unset() || w.mirror {
        return None;
    }
    let consequence = match c.role {
        Role::NodeAgent => {
            "its pods run at priority 0: any higher-priority pending pod can preempt them, the kubelet may evict them under node pressure, and the node loses what they provide"
        }
        Role::ClusterService => {
            "its pods run at priority 0: they can be preempted by any higher-priority pod and evicted under node pressure, taking the service down for the whole cluster"
        }
    };
    let recognised = if c.likely {
        format!(" is likely critical ({}) and", c.matched_by)
    } else if c.by_signal() {
        format!(" (recognised by {})", c.matched_by)
    } else {
        String::new()
    };
    let mut d = Draft::new(
        CheckId::CriticalWithoutPriority,
        w,
        format!(
            "{} ({}){recognised} has no priorityClassName; {consequence}",
            c.name,
            c.role.as_str()
        ),
    );
    d.location = w.pod.spec_location().or(w.location.as_ref()).cloned();
    d.recommended_class = Some(c.recommended_class.clone());
    d.component = Some(c.clone());
    Some(d)
}
