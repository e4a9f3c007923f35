//! One way for every test in the workspace to skip: loudly, and never in CI.
//!
//! libtest captures `print!`/`eprint!` of passing tests, so a skip reported that way is never
//! seen. [`skip`] writes to the process's stderr handle directly (libtest does not capture
//! that), and under `CI=true` it fails the test instead: CI installs every tool a test needs
//! (`scripts/install-deps`), so a missing one there is a broken machine, not a reason to pass.

use std::io::Write;

use crate::binaries::{bin_dir, binaries_available};

/// True when the environment says this is CI (`CI=true`, as `scripts/test` and most CI
/// runners set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Report that the calling test cannot run, and why. Panics when [`in_ci`]; otherwise writes
/// `SKIPPED: <test name>: <reason>` to stderr, uncaptured, and the caller returns. Use the
/// [`skip!`](crate::skip!) macro, which returns for you.
pub fn skip(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed thread>")
        .to_string();
    assert!(!in_ci(), "{test}: cannot run in CI (CI=true): {reason}");
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
}

/// `skip!("zsh not found")` or `skip!("{tool} not found in {}", dir)`: [`skip()`] and return
/// from the calling test.
#[macro_export]
macro_rules! skip {
    ($($reason:tt)+) => {{
        $crate::skip(&format!($($reason)+));
        return;
    }};
}

/// Decide what a cluster test does when the binaries are missing: `false` when they are
/// available (run the test), else [`skip()`] (a panic under `CI=true`) and `true`.
/// [`require_cluster!`](crate::require_cluster!) wraps this.
pub fn skip_or_fail_without_binaries() -> bool {
    if binaries_available() {
        return false;
    }
    skip(&format!(
        "Kubernetes test binaries not found in {}; run scripts/k8s-test-env",
        bin_dir().display()
    ));
    true
}

/// Return early from the calling test (after a loud `SKIPPED` line) when the Kubernetes
/// binaries are missing, or fail it under `CI=true`.
#[macro_export]
macro_rules! require_cluster {
    () => {
        if $crate::skip_or_fail_without_binaries() {
            return;
        }
    };
}
