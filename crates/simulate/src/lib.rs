//! What the kube-scheduler and the kubelet would do to critical pods, from a snapshot of a
//! cluster: the node-pressure eviction order, each container's `oom_score_adj`, and the
//! preemption victims of a pending pod — as things are and with priorityguard's recommended
//! classes applied, so users see what an unprotected Multus pod risks and what the fix
//! changes.
//!
//! The rules are the upstream code's, cited in each (private) module (Kubernetes v1.36): pod
//! requests and QoS (`resources.rs`), eviction ranking (`eviction.rs`), OOM scores
//! (`oom.rs`), scheduler filters (`schedule.rs`) and DefaultPreemption (`preemption.rs`).
//!
//! Only the simulation is here; the flow is one-way. The snapshot's types (nodes, pods,
//! quantities, selectors, usage) are [`pg_model::snapshot`]'s; pg-sources reads them
//! (`pg_sources::snapshot`: kubectl dumps, audited files, a live cluster's list pages, usage
//! files, the pending pod), and rendering the results is pg-report's job.
//!
//! The preemption rules are checked against a real kube-scheduler by the
//! `cluster_scheduler_agreement` test; the eviction order and the OOM scores against the
//! kubelet's own Go code by `cluster_kubelet_eviction_agreement` and
//! `kubelet_oom_score_adj_agreement`.

mod eviction;
mod fixes;
mod oom;
mod preemption;
mod report;
mod resources;
mod risk;
mod schedule;

// The simulation: one call from a snapshot to every view, before and after the fixes.
pub use eviction::{Assume, Pressure};
pub use report::{Options, Side, Simulation, Summary, simulate};

// What the views hold, for the renderers (pg-report's table, chart and HTML page).
pub use eviction::{EvictionOrder, Ranked, place};
pub use oom::{ContainerKind, OomTable};
pub use preemption::{Outcome, Preemption};
pub use risk::{Placement, Risk};
pub use schedule::Fit;

// The risk line `audit` adds to critical findings when its input has nodes.
pub use risk::annotate;

// Single steps of the engine, compared one by one with the real kubelet and kube-scheduler by
// the agreement tests.
pub use eviction::rank;
pub use oom::node_scores;
pub use preemption::simulate as preempt;

/// Why a simulation could not run: options the snapshot cannot satisfy (a node it does not
/// have), in one line.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("{0}")]
    Invalid(String),
}
