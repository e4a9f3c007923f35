//! One module per check, each exporting one [`Rule`]; [`ALL`] is the registry the audit
//! iterates. Workload checks look at one workload (or pod) with the whole input as context
//! and return a [`Draft`]; grouping by owner happens afterwards.
//!
//! ## Adding a check
//!
//! 1. `pg_model::CheckId`: the variant, its place in `CheckId::ALL` and its id in `as_str`.
//! 2. `crates/checks/checks.yaml`: severity, summary and explanation, at the same place.
//! 3. A module here with `pub(crate) static RULE: Rule` and its `check` function, declared
//!    above and listed in [`ALL`] at the same place. Unit tests hold the three orders
//!    together. `fixable: true` only with an edit for it in pg-fix (`crates/fix/src/plan.rs`).
//! 4. `crates/checks/tests/fixtures/<check-id>/`: manifests it fires on (their findings are
//!    snapshotted) and a `quiet.yaml` of near misses it must stay quiet on.
//!
//! User-facing lists of checks: the README's table and `docs/output-formats.md`.

mod critical_cannot_preempt;
mod critical_class_too_weak;
mod critical_without_priority;
mod invalid_priority_class;
mod no_priority;
mod priority_set_directly;
mod system_class_quota;
mod unknown_priority_class;

use crate::context::Context;
use pg_model::{
    CheckId, ClassRef, ComponentMatch, Finding, Location, ObjectRef, Severity, Workload,
};

/// Every check, in `CheckId::ALL` and `checks.yaml` order (tested). Workload checks run in
/// this order, so their findings keep it.
pub static ALL: &[&Rule] = &[
    &critical_without_priority::RULE,
    &critical_class_too_weak::RULE,
    &unknown_priority_class::RULE,
    &invalid_priority_class::RULE,
    &priority_set_directly::RULE,
    &critical_cannot_preempt::RULE,
    &system_class_quota::RULE,
    &no_priority::RULE,
];

/// A check: its id, whether `priorityguard fix` can fix its findings, and what it looks at.
pub struct Rule {
    pub id: CheckId,
    /// Its findings have a safe, mechanical edit (pg-fix and `fix --cluster` ask
    /// [`crate::is_fixable`]).
    pub fixable: bool,
    pub scope: Scope,
}

/// What a check looks at.
pub enum Scope {
    /// One workload or pod at a time; its drafts are folded into one finding per owner.
    Workload(fn(&Subject<'_>, &Context) -> Option<Draft>),
    /// The input as a whole (PriorityClasses), reported as is.
    Input(fn(&Context) -> Vec<Finding>),
}

/// The workload (or pod) a workload check looks at, and the critical component it is, if any.
pub struct Subject<'a> {
    pub workload: &'a Workload,
    pub component: Option<&'a ComponentMatch>,
}

/// A finding before it knows its group and severity.
pub struct Draft {
    pub check: CheckId,
    pub message: String,
    pub location: Option<Location>,
    pub component: Option<ComponentMatch>,
    pub current_class: Option<String>,
    pub recommended_class: Option<String>,
}

impl Draft {
    pub fn new(check: CheckId, w: &Workload, message: String) -> Draft {
        Draft {
            check,
            message,
            location: w.pod.class_location().or(w.location.as_ref()).cloned(),
            component: None,
            current_class: class_label(&w.pod.priority_class),
            recommended_class: None,
        }
    }

    pub fn into_finding(self, severity: Severity, object: ObjectRef, inferred: bool) -> Finding {
        Finding {
            check: self.check,
            severity,
            message: self.message,
            object,
            object_inferred: inferred,
            location: self.location,
            component: self.component,
            current_class: self.current_class,
            recommended_class: self.recommended_class,
            pods: Vec::new(),
            risk: None,
            cluster: None,
            managed_by: None,
        }
    }
}

/// How a class is shown: its name, or the template expression (and what it defaults to).
pub fn class_label(c: &ClassRef) -> Option<String> {
    match c {
        ClassRef::Missing | ClassRef::Empty => None,
        ClassRef::Literal { name } => Some(name.clone()),
        ClassRef::Templated {
            expression,
            default: Some(d),
        } => Some(format!("{expression} (default {d})")),
        ClassRef::Templated { expression, .. } => Some(expression.clone()),
    }
}

/// The drafts of every workload check on workload number `subject`.
pub fn check_workload(w: &Workload, subject: usize, ctx: &Context) -> Vec<Draft> {
    let s = Subject {
        workload: w,
        component: ctx.component(subject),
    };
    ALL.iter()
        .filter_map(|r| match r.scope {
            Scope::Workload(check) => check(&s, ctx),
            Scope::Input(_) => None,
        })
        .collect()
}

/// The findings of every whole-input check.
pub fn check_input(ctx: &Context) -> Vec<Finding> {
    ALL.iter()
        .flat_map(|r| match r.scope {
            Scope::Input(check) => check(ctx),
            Scope::Workload(_) => Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks_info;

    #[test]
    fn registry_model_and_metadata_list_the_same_checks_in_the_same_order() {
        let registry: Vec<CheckId> = ALL.iter().map(|r| r.id).collect();
        let metadata: Vec<CheckId> = checks_info().into_iter().map(|c| c.id).collect();
        assert_eq!(registry, CheckId::ALL);
        assert_eq!(metadata, CheckId::ALL);
    }

    #[test]
    fn fixable_checks_are_the_ones_fix_has_an_edit_for() {
        let fixable: Vec<CheckId> = CheckId::ALL
            .into_iter()
            .filter(|&c| crate::is_fixable(c))
            .collect();
        assert_eq!(
            fixable,
            [
                CheckId::CriticalWithoutPriority,
                CheckId::CriticalClassTooWeak,
                CheckId::PrioritySetDirectly,
            ]
        );
    }
}
