//! The container image without a container engine: the Dockerfile's stages are what the
//! image promises (static binary on distroless/static, non-root, priorityguard as entrypoint),
//! its build stage's script builds the static binaries, and those run as user 65532 in a root
//! directory holding nothing but what the final stage copies: no libc, no loader, no CA files.
//! From there they audit the bundled example and a real kube-apiserver over TLS.
//!
//! Building and running the image itself needs a Docker engine, which the test machines lack.

mod common;
use common::*;
use pg_testenv::{Options, TestCluster};
use std::path::Path;
use std::process::{Command, Output};

const NON_ROOT: &str = "65532:65532";

/// The Dockerfile's instructions as (keyword, arguments), continuation lines joined.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (keyword, args) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (
                keyword.to_uppercase(),
                args.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

#[test]
fn dockerfile_builds_static_and_runs_non_root() {
    let steps = dockerfile();
    let from: Vec<&str> = steps
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, a)| a.as_str())
        .collect();
    assert_eq!(from.len(), 2, "multi-stage: {from:?}");
    assert!(from[0].ends_with(" AS build"), "{from:?}");
    assert!(
        from[1].starts_with("gcr.io/distroless/static") && from[1].ends_with(":nonroot"),
        "final stage on distroless/static:nonroot: {from:?}"
    );
    let final_stage = &steps[steps.iter().rposition(|(k, _)| k == "FROM").unwrap()..];
    let get = |keyword: &str| {
        final_stage
            .iter()
            .filter(|(k, _)| k == keyword)
            .map(|(_, a)| a.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("USER"), [NON_ROOT]);
    assert_eq!(get("ENTRYPOINT"), [r#"["/usr/local/bin/priorityguard"]"#]);
    assert_eq!(
        get("COPY"),
        ["--from=build /out/ /usr/local/bin/", "examples/ /examples/"]
    );
    let build_runs: Vec<&str> = steps
        .iter()
        .take_while(|(k, a)| k != "FROM" || !a.starts_with("gcr.io"))
        .filter(|(k, _)| k == "RUN")
        .map(|(_, a)| a.as_str())
        .collect();
    assert!(
        build_runs
            .iter()
            .any(|r| r.ends_with("scripts/build-static /out")),
        "the build stage runs scripts/build-static: {build_runs:?}"
    );
}

fn chroot(root: &Path, args: &[&str]) -> Output {
    Command::new("chroot")
        .arg(format!("--userspec={NON_ROOT}"))
        .arg(root)
        .arg("/usr/local/bin/priorityguard")
        .args(args)
        // Nothing from the test's environment leaks in (no KUBECONFIG, no HOME).
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("NO_COLOR", "1")
        .output()
        .expect("chroot runs")
}

/// The final stage's files, built by the build stage's script, in an otherwise empty root.
fn image_root(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("rootfs");
    let bin = root.join("usr/local/bin");
    let target_dir = repo_root().join("target/static");
    let built = Command::new(repo_root().join("scripts/build-static"))
        .arg(&bin)
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .expect("scripts/build-static runs");
    assert!(built.success(), "scripts/build-static failed");
    copy_tree(&repo_root().join("examples"), &root.join("examples"));
    root
}

/// `COPY examples/ /examples/`: the whole tree, subdirectories included.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn cluster_static_binary_in_an_empty_root() {
    pg_testenv::require_cluster!();
    // chroot and switching to user 65532 need root; CI runs as root.
    if !Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
    {
        pg_testenv::skip!("the container test needs root (chroot, user 65532)");
    }
    let dir = tempfile::tempdir().unwrap();
    let root = image_root(dir.path());

    let version = chroot(&root, &["--version"]);
    assert!(version.status.success(), "{version:?}");
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("priorityguard "));

    // The image's documented first command.
    let example = chroot(&root, &["audit", "/examples/multus-daemonset.yml"]);
    let stdout = String::from_utf8_lossy(&example.stdout);
    assert_eq!(example.status.code(), Some(1), "{example:?}");
    assert!(
        stdout.contains("error[critical-without-priority] Multus CNI")
            && stdout.contains("class: none -> system-node-critical"),
        "{stdout}"
    );

    // A live cluster over TLS, with the client certificate embedded in the kubeconfig, as a
    // mounted kubeconfig Secret would be.
    let cluster = TestCluster::start(Options::default()).unwrap();
    cluster.kubectl_ok(
        &["apply", "-f", &upstream("multus-cni/multus-daemonset.yml")],
        None,
    );
    let flat = cluster.kubectl_ok(&["config", "view", "--raw", "--flatten", "--minify"], None);
    std::fs::write(root.join("kubeconfig"), flat).unwrap();
    let live = chroot(
        &root,
        &[
            "audit",
            "--cluster",
            "--kubeconfig",
            "/kubeconfig",
            "-o",
            "json",
        ],
    );
    assert_eq!(live.status.code(), Some(1), "{live:?}");
    assert!(
        finding_keys(&json(&live)).contains(&(
            "critical-without-priority".to_string(),
            "error".to_string(),
            "kube-system/DaemonSet/kube-multus-ds".to_string()
        )),
        "{live:?}"
    );
}
