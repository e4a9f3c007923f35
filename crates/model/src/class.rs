use crate::Location;
use serde::Serialize;

pub const SYSTEM_NODE_CRITICAL: &str = "system-node-critical";
pub const SYSTEM_CLUSTER_CRITICAL: &str = "system-cluster-critical";
/// Names with this prefix are reserved for the built-in classes; the API rejects new ones.
pub const SYSTEM_CLASS_PREFIX: &str = "system-";
/// The highest value a user-defined PriorityClass may have.
pub const MAX_USER_PRIORITY: i64 = 1_000_000_000;
/// The kubelet never evicts pods at or above this priority (only the two system classes reach it).
pub const SYSTEM_CRITICAL_THRESHOLD: i64 = 2_000_000_000;
/// The only values the API accepts for `preemptionPolicy`.
pub const PREEMPTION_POLICIES: [&str; 2] = ["PreemptLowerPriority", "Never"];

/// A PriorityClass that every cluster has, whether or not the input defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltinClass {
    pub name: &'static str,
    pub value: i64,
}

pub const BUILTIN_CLASSES: [BuiltinClass; 2] = [
    BuiltinClass {
        name: SYSTEM_NODE_CRITICAL,
        value: 2_000_001_000,
    },
    BuiltinClass {
        name: SYSTEM_CLUSTER_CRITICAL,
        value: 2_000_000_000,
    },
];

pub fn builtin_class(name: &str) -> Option<BuiltinClass> {
    BUILTIN_CLASSES.iter().copied().find(|c| c.name == name)
}

/// What a pod spec says about its class.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ClassRef {
    /// No `priorityClassName` key (or `null`).
    Missing,
    /// `priorityClassName: ""`: the API treats it as unset.
    Empty,
    Literal {
        name: String,
    },
    /// The value comes from a template expression; `default` is what it renders to when the
    /// chart's values or the role's defaults (or a `default(...)` filter) say so.
    Templated {
        expression: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
}

impl ClassRef {
    /// The class name the pod will most likely run with, if one is known.
    pub fn effective_name(&self) -> Option<&str> {
        match self {
            ClassRef::Literal { name } => Some(name),
            ClassRef::Templated {
                default: Some(d), ..
            } => Some(d),
            _ => None,
        }
    }

    pub fn is_unset(&self) -> bool {
        matches!(self, ClassRef::Missing | ClassRef::Empty)
    }
}

/// A `scheduling.k8s.io/v1` PriorityClass as the input defines it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PriorityClassDef {
    pub name: String,
    /// `None` when the field is missing or templated.
    pub value: Option<i64>,
    pub global_default: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemption_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A ResourceQuota, reduced to what decides whether system classes may be used in its namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceQuotaDef {
    pub namespace: Option<String>,
    pub name: String,
    /// Classes named by a `scopeSelector` expression `PriorityClass In [...]`.
    pub priority_classes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A ResourceQuota admission configuration whose `limitedResources` restrict pods by class:
/// such classes are usable only in namespaces with a matching quota.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuotaConfig {
    pub limited_classes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}
