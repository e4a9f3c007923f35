//! Live clusters for priorityguard: `audit --cluster` reads pods, workloads, PriorityClasses and
//! ResourceQuotas from a kube-apiserver; `fix --cluster` patches the owning workloads' pod
//! templates; `simulate --cluster` lists nodes, pods, classes, budgets and pod metrics as raw
//! pages ([`list_snapshot`]); `audit --cluster --events` records an Event on each offending
//! object ([`record_events`]).
//!
//! The API is blocking on purpose: the CLI is synchronous, and each call runs kube-rs on a
//! private single-threaded tokio runtime (so do not call it from inside another runtime).
//!
//! Kubeconfig handling follows kubectl: `--kubeconfig`, else every file in `KUBECONFIG`
//! (missing ones skipped, first value wins), else `~/.kube/config`, else the in-cluster service
//! account; `--context` or the current context; token, client-certificate and exec credentials.
//!
//! `serve` keeps the same objects current with one watch per kind ([`Watch`]): that API is
//! async (it runs as long as the server does) and must be used inside a tokio runtime.
//!
//! Objects are read as raw JSON pages (`limit=500` + `continue`) straight into
//! [`pg_sources::raw::RawObject`], the one mapping from Kubernetes JSON to [`pg_model::Object`]
//! that files use too, so a cluster and a `kubectl get -o json` dump of it give the same objects.

mod apply;
mod connect;
mod error;
mod events;
mod fleet;
mod kinds;
mod list;
mod plan;
mod progress;
mod retry;
mod snapshot;
mod watch;

use std::path::PathBuf;

pub use apply::{ApplyMode, ApplyResult, FIELD_MANAGER, apply};
pub use connect::{Target, contexts, target};
pub use error::ClusterError;
pub use events::{EventResult, REPORTING_CONTROLLER, Recorded, record_events};
pub use fleet::{DEFAULT_JOBS, Member, load_fleet};
pub use list::{PAGE_SIZE, load, load_keeping_labels};
pub use plan::{PlannedPatch, plan};
pub use snapshot::list_snapshot;
pub use watch::{Change, KindStatus, Watch, WatchState};

/// Where and what to read; the CLI fills it from `--kubeconfig`, `--context`, `-n` / `-A`.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// `--kubeconfig FILE`: used alone, as kubectl does (`KUBECONFIG` is then ignored).
    pub kubeconfig: Option<PathBuf>,
    /// `--context NAME`; `None` = the kubeconfig's current context.
    pub context: Option<String>,
    /// `-n NS`; `None` = all namespaces (`-A`). PriorityClasses are cluster-wide and are
    /// always listed, since `unknown-priority-class` needs every class.
    pub namespace: Option<String>,
    /// Show an indicatif progress bar on stderr while listing (only drawn on a terminal).
    pub progress: bool,
}
