//! The vocabulary shared by every priorityguard crate.
//!
//! Sources turn inputs into [`Object`]s; checks turn objects into [`Finding`]s; reporters and
//! fixers consume findings. Nothing here knows how an object was read.
//!
//! [`snapshot`] holds the simulator's view of a cluster (nodes, pods, budgets, measured
//! usage): pg-sources reads it, pg-simulate simulates it, pg-report draws the results.

mod class;
mod finding;
mod location;
mod managed;
pub mod snapshot;
mod visible;
mod workload;

pub use class::{
    BUILTIN_CLASSES, BuiltinClass, ClassRef, MAX_USER_PRIORITY, PREEMPTION_POLICIES,
    PriorityClassDef, QuotaConfig, ResourceQuotaDef, SYSTEM_CLASS_PREFIX, SYSTEM_CLUSTER_CRITICAL,
    SYSTEM_CRITICAL_THRESHOLD, SYSTEM_NODE_CRITICAL, builtin_class,
};
pub use finding::{CheckId, ClusterRef, ComponentMatch, Finding, PodRef, Role, Severity};
pub use location::{Location, ObjectRef};
pub use managed::{Deployer, MANAGED_BY_ANNOTATIONS, MANAGED_BY_LABELS, ManagedBy};
pub use visible::{needs_escape, visible};
pub use workload::{
    CommandLine, Container, ContainerStructure, FailClosedWebhook, HostMount, Object, OwnerRef,
    PodSpecFacts, PodStructure, ServiceDef, SpecPositions, WebhookConfigDef, Workload,
    WorkloadKind,
};
mod report;
pub use report::{CheckInfo, ClusterSummary, ComponentStatus, InputProblem, Report, Stats};
