//! `invalid-priority-class`: PriorityClasses the API server refuses, and competing
//! globalDefaults.

use super::{Rule, Scope};
use crate::context::Context;
use pg_model::{
    CheckId, Finding, MAX_USER_PRIORITY, ObjectRef, PREEMPTION_POLICIES, PriorityClassDef,
    SYSTEM_CLASS_PREFIX, Severity, builtin_class,
};

pub(crate) static RULE: Rule = Rule {
    id: CheckId::InvalidPriorityClass,
    fixable: false,
    scope: Scope::Input(check),
};

fn check(ctx: &Context) -> Vec<Finding> {
    let defaults: Vec<&str> = ctx
        .class_defs
        .iter()
        .filter(|c| c.global_default)
        .map(|c| c.name.as_str())
        .collect();
    let mut out = Vec::new();
    for c in &ctx.class_defs {
        // Dumps of a live cluster list the built-in classes as they are: fine.
        let builtin_as_is = builtin_class(&c.name).is_some_and(|b| Some(b.value) == c.value);
        let mut problems = Vec::new();
        if !builtin_as_is {
            if c.name.starts_with(SYSTEM_CLASS_PREFIX) {
                problems.push(format!(
                    "the name prefix {SYSTEM_CLASS_PREFIX:?} is reserved for built-in classes"
                ));
            }
            match c.value {
                None => problems.push("value is required".to_string()),
                Some(v) if v > MAX_USER_PRIORITY => problems.push(format!(
                    "value {v} is above {MAX_USER_PRIORITY}, the maximum for user-defined classes"
                )),
                Some(_) => {}
            }
        }
        if let Some(p) = c.preemption_policy.as_deref()
            && !PREEMPTION_POLICIES.contains(&p)
        {
            problems.push(format!(
                "preemptionPolicy {p:?} is not PreemptLowerPriority or Never"
            ));
        }
        if c.global_default && defaults.len() > 1 {
            problems.push(format!(
                "several classes are globalDefault ({})",
                defaults.join(", ")
            ));
        }
        if !problems.is_empty() {
            out.push(finding(c, problems.join("; ")));
        }
    }
    out
}

fn finding(c: &PriorityClassDef, message: String) -> Finding {
    Finding {
        check: CheckId::InvalidPriorityClass,
        severity: Severity::Error,
        message: format!("PriorityClass {}: {message}", c.name),
        object: ObjectRef {
            kind: "PriorityClass".into(),
            namespace: None,
            name: c.name.clone(),
        },
        object_inferred: false,
        location: c.location.clone(),
        component: None,
        current_class: None,
        recommended_class: None,
        pods: Vec::new(),
        risk: None,
        cluster: None,
        managed_by: None,
    }
}
