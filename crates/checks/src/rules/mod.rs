//! One module per check. Workload checks look at one workload (or pod) with the whole input
//! as context and return a [`Draft`]; grouping by owner happens afterwards.

pub mod critical_cannot_preempt;
pub mod critical_class_too_weak;
pub mod critical_without_priority;
pub mod invalid_priority_class;
pub mod no_priority;
pub mod priority_set_directly;
pub mod system_class_quota;
pub mod unknown_priority_class;

use crate::context::Context;
use pg_model::{
    CheckId, ClassRef, ComponentMatch, Finding, Location, ObjectRef, Severity, Workload,
};

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

pub fn check_workload(w: &Workload, subject: usize, ctx: &Context) -> Vec<Draft> {
    let component = ctx.component(subject);
    [
        critical_without_priority::check(w, component),
        critical_class_too_weak::check(w, component, ctx),
        unknown_priority_class::check(w, ctx),
        priority_set_directly::check(w),
        critical_cannot_preempt::check(w, component, ctx),
        system_class_quota::check(w, ctx),
        no_priority::check(w),
    ]
    .into_iter()
    .flatten()
    .collect()
}
