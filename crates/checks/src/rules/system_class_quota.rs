//! `system-class-quota`: a system class outside kube-system where the input shows that quota
//! admission limits it to namespaces with a matching ResourceQuota.

use super::{Draft, Rule, Scope, Subject};
use crate::context::Context;
use pg_model::{CheckId, SYSTEM_CLASS_PREFIX};

pub(crate) static RULE: Rule = Rule {
    id: CheckId::SystemClassQuota,
    fixable: false,
    scope: Scope::Workload(check),
};

fn check(s: &Subject<'_>, ctx: &Context) -> Option<Draft> {
    let w = s.workload;
    let class = w.pod.priority_class.effective_name()?;
    let ns = w.namespace.as_deref()?;
    if !class.starts_with(SYSTEM_CLASS_PREFIX) || ns == "kube-system" || ns.contains("{{") {
        return None;
    }
    let allowed_here = ctx.quotas.iter().any(|q| {
        q.namespace.as_deref() == Some(ns) && q.priority_classes.iter().any(|c| c == class)
    });
    if allowed_here {
        return None;
    }
    let configured = ctx
        .quota_configs
        .iter()
        .any(|c| c.limited_classes.iter().any(|c| c == class));
    let quota_elsewhere = ctx
        .quotas
        .iter()
        .find(|q| q.priority_classes.iter().any(|c| c == class));
    let evidence = if configured {
        "the input's ResourceQuota admission configuration lists it under limitedResources"
            .to_string()
    } else if let Some(q) = quota_elsewhere {
        format!(
            "ResourceQuota {}/{} scopes it elsewhere, the sign of a limitedResources configuration",
            q.namespace.as_deref().unwrap_or("default"),
            q.name
        )
    } else {
        return None;
    };
    Some(Draft::new(
        CheckId::SystemClassQuota,
        w,
        format!(
            "class {class} is used in namespace {ns} and {evidence}, but {ns} has no ResourceQuota with scopeSelector PriorityClass In [{class}]: the API server will reject these pods"
        ),
    ))
}
