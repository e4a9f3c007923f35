//! Where the Kubernetes binaries are (built by `scripts/k8s-test-env`).

use std::path::PathBuf;

/// Kubernetes version whose binaries are used unless `$K8S_VERSION` says otherwise.
/// Keep in sync with `scripts/k8s-test-env`.
pub const DEFAULT_K8S_VERSION: &str = "v1.36.3";

/// Binaries that must be present in [`bin_dir`].
pub const BINARIES: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
];

/// Directory holding the Kubernetes binaries: `$PRIORITYGUARD_K8S_BIN` if set,
/// else `$HOME/.cache/priorityguard/k8s/<$K8S_VERSION or DEFAULT_K8S_VERSION>/bin`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PRIORITYGUARD_K8S_BIN").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let version = std::env::var("K8S_VERSION")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| format!("v{}", v.trim_start_matches('v')))
        .unwrap_or_else(|| DEFAULT_K8S_VERSION.to_string());
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    home.join(".cache/priorityguard/k8s")
        .join(version)
        .join("bin")
}

/// True when every binary in [`BINARIES`] exists in [`bin_dir`].
pub fn binaries_available() -> bool {
    let dir = bin_dir();
    BINARIES.iter().all(|b| dir.join(b).is_file())
}
