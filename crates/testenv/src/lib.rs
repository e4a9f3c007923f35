//! Test-only harness that runs a real, throwaway Kubernetes control plane, and the one skip
//! helper of the whole test suite.
//!
//! [`TestCluster::start`] launches etcd and kube-apiserver (and optionally
//! kube-scheduler and kube-controller-manager) as child processes, with a
//! freshly generated PKI, RBAC authorization and an admin kubeconfig. Everything
//! lives in a temporary directory that is removed, and every child is killed,
//! when the [`TestCluster`] is dropped (also when the test panics; then the
//! directory is kept and each component's state and log tail are printed).
//!
//! The binaries are built once per machine by `scripts/k8s-test-env` into
//! `$HOME/.cache/priorityguard/k8s/<version>/bin` (or point
//! `$PRIORITYGUARD_K8S_BIN` at a directory holding `etcd`, `kube-apiserver`,
//! `kube-controller-manager`, `kube-scheduler` and `kubectl`).
//!
//! ```no_run
//! use pg_testenv::{Options, TestCluster};
//!
//! fn cluster_example() {
//!     pg_testenv::require_cluster!();
//!     let cluster = TestCluster::start(Options::default()).unwrap();
//!     let out = cluster.kubectl_ok(&["get", "priorityclasses", "-o", "name"], None);
//!     assert!(out.contains("system-node-critical"));
//! }
//! ```
//!
//! Modules by concern: `binaries` (where they are), `skip` (skipping loudly, never in CI),
//! `pki` (certificates), `ports` (API server ports, held after a stop), `process` (children
//! that die with the test), `cluster` (start, stop, evidence), `kubectl` (commands and
//! kubeconfigs), `fixtures` (fake nodes, template patches).
//! See `docs/testing-cluster.md` for how the binaries are built.

mod binaries;
mod cluster;
mod fixtures;
mod kubectl;
mod pki;
mod ports;
mod process;
mod skip;

pub use binaries::{BINARIES, DEFAULT_K8S_VERSION, bin_dir, binaries_available};
pub use cluster::{Options, TestCluster};
pub use skip::{in_ci, skip, skip_or_fail_without_binaries};
