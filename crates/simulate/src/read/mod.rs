//! The simulator's inputs: a cluster snapshot (kubectl JSON or YAML, audited manifests, or list
//! pages fetched from a cluster), measured usage, and the pending pod to place. Everything
//! downstream sees only the [`pg_model::snapshot::Snapshot`], [`pg_model::snapshot::Usage`]
//! and pod they produce.

pub(crate) mod pending;
pub(crate) mod snapshot;
pub mod usage;

pub use pending::parse as pending_pod;
pub use snapshot::{Builder, from_audited_files, load};
