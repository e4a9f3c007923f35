//! The pre-commit hooks in `.pre-commit-hooks.yaml`, run by the real `pre-commit` tool (from
//! PyPI, installed into a virtualenv under ~/.cache/priorityguard) against a sample repository
//! holding the upstream Multus DaemonSet.
//!
//! The hooks repository is a temporary git clone-source holding this checkout's
//! `.pre-commit-hooks.yaml`, committed, and referenced by `repo:` + `rev:` exactly as users
//! reference ours, so the manifest itself is what is tested (not a copy of its hooks).
//! The hooks are `language: system`: they run the `priorityguard` this test built, on PATH.
//!
//! When pre-commit cannot be installed (no network), the test prints SKIPPED, and fails under
//! CI=true.

mod common;

use common::{repo_root, upstream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn home_cache() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/priorityguard/pre-commit-venv")
}

fn skip_or_fail(why: &str) -> Option<PathBuf> {
    pg_testenv::skip(&format!("pre-commit is unavailable: {why}"));
    None
}

/// The `pre-commit` executable, installed on first use into a cached virtualenv (once per
/// test process: the tests run in parallel).
fn pre_commit() -> Option<PathBuf> {
    static EXE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    EXE.get_or_init(install_pre_commit).clone()
}

fn install_pre_commit() -> Option<PathBuf> {
    let venv = home_cache();
    let exe = venv.join("bin/pre-commit");
    if exe.exists() {
        return Some(exe);
    }
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok());
    let Some(python) = python else {
        return skip_or_fail("no python3 on PATH");
    };
    let made = Command::new(python)
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect("python runs");
    if !made.status.success() {
        return skip_or_fail(&format!(
            "python3 -m venv failed: {}",
            String::from_utf8_lossy(&made.stderr)
        ));
    }
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "pre-commit"])
        .output()
        .expect("pip runs");
    if !pip.status.success() || !exe.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        return skip_or_fail(&format!(
            "pip install pre-commit failed: {}",
            String::from_utf8_lossy(&pip.stderr)
        ));
    }
    Some(exe)
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=priorityguard tests",
            "-c",
            "user.email=tests@example.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// PATH with the directory of the priorityguard under test first.
fn path_with_priorityguard() -> std::ffi::OsString {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_priorityguard"))
        .parent()
        .unwrap()
        .to_path_buf();
    std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap()
}

/// Runs pre-commit in `dir` with the freshly built priorityguard first on PATH and a private
/// pre-commit cache.
fn run(exe: &Path, dir: &Path, cache: &Path, args: &[&str]) -> (Output, String) {
    let out = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .env("PATH", path_with_priorityguard())
        .env("PRE_COMMIT_HOME", cache)
        .env("NO_COLOR", "1")
        .env("GIT_AUTHOR_NAME", "priorityguard tests")
        .env("GIT_AUTHOR_EMAIL", "tests@example.invalid")
        .env("GIT_COMMITTER_NAME", "priorityguard tests")
        .env("GIT_COMMITTER_EMAIL", "tests@example.invalid")
        .output()
        .expect("pre-commit runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

#[test]
fn the_hooks_manifest_is_valid_for_pre_commit() {
    let Some(exe) = pre_commit() else { return };
    let manifest = repo_root().join(".pre-commit-hooks.yaml");
    let out = Command::new(&exe)
        .arg("validate-manifest")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pre-commit validate-manifest: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let hooks: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let ids: Vec<&str> = hooks
        .as_sequence()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["priorityguard-audit", "priorityguard-fix"]);
    for hook in hooks.as_sequence().unwrap() {
        let files = files_pattern_matches(hook["files"].as_str().unwrap());
        assert!(
            files,
            "{hook:?} must match .yaml, .yml, .json and .j2 files"
        );
    }
}

/// The `files` pattern matches what the hooks promise, checked with Python's `re` (the engine
/// pre-commit uses) rather than a Rust re-implementation.
fn files_pattern_matches(pattern: &str) -> bool {
    let script = format!(
        "import re, sys\np = re.compile({pattern:?})\n\
         ok = all(p.search(f) for f in ['a.yaml', 'd/b.yml', 'c.json', 'roles/x/templates/m.yml.j2'])\n\
         ok = ok and not any(p.search(f) for f in ['README.md', 'main.rs', 'yaml.txt'])\n\
         sys.exit(0 if ok else 1)"
    );
    let python = home_cache().join("bin/python");
    Command::new(python)
        .args(["-c", &script])
        .status()
        .unwrap()
        .success()
}

#[test]
fn pre_commit_runs_the_hooks_on_the_upstream_multus_daemonset() {
    let Some(exe) = pre_commit() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("pre-commit-home");

    // The hooks repository: this checkout's manifest, committed, referenced by rev.
    let hooks = tmp.path().join("hooks-repo");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::copy(
        repo_root().join(".pre-commit-hooks.yaml"),
        hooks.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    git(&hooks, &["init", "-q"]);
    git(&hooks, &["add", "."]);
    git(&hooks, &["commit", "-q", "-m", "hooks"]);
    let rev = git(&hooks, &["rev-parse", "HEAD"]);

    // The user's repository: the Multus DaemonSet exactly as multus-cni ships it.
    let repo = tmp.path().join("cluster-config");
    std::fs::create_dir_all(repo.join("deploy")).unwrap();
    let manifest = repo.join("deploy/multus-daemonset.yml");
    std::fs::copy(upstream("multus-cni/multus-daemonset.yml"), &manifest).unwrap();
    std::fs::write(
        repo.join("README.md"),
        "not YAML: {{ ignored by the hooks\n",
    )
    .unwrap();
    std::fs::write(
        repo.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: priorityguard-audit\n      - id: priorityguard-fix\n",
            hooks.display()
        ),
    )
    .unwrap();
    let (out, text) = run(&exe, &repo, &cache, &["validate-config"]);
    assert!(out.status.success(), "validate-config: {text}");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "vendor multus"]);
    let original = std::fs::read_to_string(&manifest).unwrap();

    // The audit hook fails and names the file and the finding.
    let (out, text) = run(
        &exe,
        &repo,
        &cache,
        &["run", "priorityguard-audit", "--all-files"],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("priorityguard audit"), "{text}");
    assert!(text.contains("Failed"), "{text}");
    assert!(text.contains("deploy/multus-daemonset.yml:185:"), "{text}");
    assert!(text.contains("critical-without-priority"), "{text}");
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), original);

    // The fix hook rewrites the file; pre-commit fails the run because files changed.
    let (out, text) = run(
        &exe,
        &repo,
        &cache,
        &["run", "priorityguard-fix", "--all-files"],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("files were modified by this hook"), "{text}");
    let fixed = std::fs::read_to_string(&manifest).unwrap();
    assert_ne!(fixed, original);
    assert!(
        fixed.contains("      priorityClassName: system-node-critical\n"),
        "{fixed}"
    );
    // One line added, nothing else touched.
    assert_eq!(fixed.lines().count(), original.lines().count() + 1);

    // With the fix staged, every hook passes, and a real `git commit` goes through them.
    git(&repo, &["add", "."]);
    let (out, text) = run(&exe, &repo, &cache, &["run", "--all-files"]);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("Passed").count(), 2, "{text}");

    let (out, text) = run(&exe, &repo, &cache, &["install"]);
    assert!(out.status.success(), "{text}");
    std::fs::copy(
        upstream("multus-cni/multus-daemonset.yml"),
        repo.join("deploy/multus-again.yml"),
    )
    .unwrap();
    git(&repo, &["add", "."]);
    let commit = Command::new("git")
        .args(["commit", "-q", "-m", "add another unfixed multus"])
        .current_dir(&repo)
        .env("PRE_COMMIT_HOME", &cache)
        .env("PATH", path_with_priorityguard())
        .env("GIT_AUTHOR_NAME", "priorityguard tests")
        .env("GIT_AUTHOR_EMAIL", "tests@example.invalid")
        .env("GIT_COMMITTER_NAME", "priorityguard tests")
        .env("GIT_COMMITTER_EMAIL", "tests@example.invalid")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&commit.stdout),
        String::from_utf8_lossy(&commit.stderr)
    );
    assert!(
        !commit.status.success(),
        "the commit must be refused: {text}"
    );
    assert!(text.contains("deploy/multus-again.yml:"), "{text}");
}
