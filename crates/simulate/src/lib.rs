//! What the kube-scheduler and the kubelet would do to critical pods, from a snapshot of a
//! cluster: the node-pressure eviction order, each container's `oom_score_adj`, and the
//! preemption victims of a pending pod — as things are and with priorityguard's recommended
//! classes applied, so users see what an unprotected Multus pod risks and what the fix
//! changes.
//!
//! The rules are the upstream code's, cited in each module (Kubernetes v1.36): quantities
//! ([`quantity`]), pod requests and QoS ([`resources`]), eviction ranking ([`eviction`]), OOM
//! scores ([`oom`]), scheduler filters ([`schedule`]) and DefaultPreemption ([`preemption`]).
//! The preemption rules are checked against a real kube-scheduler by the
//! `cluster_scheduler_agreement` test; the eviction order and the OOM scores against the
//! kubelet's own Go code by `cluster_kubelet_eviction_agreement` and
//! `kubelet_oom_score_adj_agreement`.

pub mod chart;
pub mod eviction;
pub mod fixes;
pub mod model;
pub mod oom;
pub mod pending;
pub mod preemption;
pub mod quantity;
mod report;
pub mod resources;
pub mod risk;
pub mod schedule;
pub mod selector;
pub mod snapshot;
pub mod table;
pub mod usage;

pub use eviction::{Assume, Pressure};
pub use report::{Options, Side, Simulation, Summary, simulate};
pub use snapshot::Snapshot;
pub use usage::Usage;

/// Why a simulation could not run; each is one line naming the input.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{input}: {message}")]
    Parse { input: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// A YAML input's error, placed at `file:line` (and column, when the parser knows it).
fn yaml_error(source: &str, e: pg_yaml::ReadError) -> SimulateError {
    SimulateError::Parse {
        input: format!("{source}:{}", e.position()),
        message: e.message,
    }
}
