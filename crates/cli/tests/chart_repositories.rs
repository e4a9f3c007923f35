//! Real repositories as users run them (testdata/trees, see SOURCES.tsv there): MetalLB's Helm
//! chart and its kustomize tree, and the AWS EBS CSI driver's chart (nested templates, objects
//! defined in `_node.tpl`) with and without a `--values` file. For each: the exact findings,
//! no input error, each finding once, and `fix --write` on a copy followed by a clean audit.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tree(name: &str) -> PathBuf {
    repo_root().join("testdata/trees").join(name)
}

/// A copy of a tree to fix, so that the repository's copy stays as upstream wrote it.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&tree(name), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs the binary in `dir`, so that paths in its output are the tree's own.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_priorityguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .output()
        .expect("binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Audits `path` in `dir` with `--all`: no input problem at all, each finding once; returns
/// the text report and the JSON one.
fn audit_once(dir: &Path, path: &str, extra: &[&str]) -> (String, serde_json::Value) {
    let text = run_in(dir, &[&["audit", "--all"], extra, &[path]].concat());
    assert_eq!(stderr(&text), "", "no error or note on stderr");
    let out = run_in(
        dir,
        &[&["audit", "--all", "-o", "json"], extra, &[path]].concat(),
    );
    let report = json(&out);
    let mut seen = std::collections::HashSet::new();
    for f in report["findings"].as_array().unwrap() {
        let key = (
            f["check"].to_string(),
            f["object"].to_string(),
            f["location"].to_string(),
        );
        assert!(seen.insert(key), "reported twice: {f}");
    }
    (stdout(&text), report)
}

fn finding<'a>(
    report: &'a serde_json::Value,
    check: &str,
    name_ends: &str,
) -> &'a serde_json::Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check && f["object"]["name"].as_str().unwrap().ends_with(name_ends))
        .unwrap_or_else(|| panic!("no {check} for *{name_ends} in {report}"))
}

/// Every file under `dir` whose content differs from the same file under `original`.
fn changed_files(original: &Path, dir: &Path) -> Vec<String> {
    let mut changed = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(original.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let rel = rel.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                stack.push(rel);
            } else if std::fs::read(original.join(&rel)).unwrap()
                != std::fs::read(dir.join(&rel)).unwrap()
            {
                changed.push(rel.display().to_string());
            }
        }
    }
    changed.sort();
    changed
}

/// `fix --write` on a copy, then the audit is clean; returns the copy and what changed.
fn fix_then_clean(name: &str, path: &str, extra: &[&str]) -> (tempfile::TempDir, Vec<String>) {
    let copy = copy_of(name);
    let fix = run_in(copy.path(), &[&["fix", "--write"], extra, &[path]].concat());
    assert_eq!(fix.status.code(), Some(0), "{}", stderr(&fix));
    let after = run_in(copy.path(), &[&["audit"], extra, &[path]].concat());
    assert_eq!(
        after.status.code(),
        Some(0),
        "{}{}",
        stdout(&after),
        stderr(&after)
    );
    let check = run_in(copy.path(), &[&["fix", "--check"], extra, &[path]].concat());
    assert_eq!(check.status.code(), Some(0), "fixing twice changes nothing");
    let changed = changed_files(&tree(name), copy.path());
    (copy, changed)
}

#[test]
fn metallb_chart_flags_speaker_and_controller_and_fix_sets_values_yaml() {
    let dir = tree("metallb-7938d3f");
    let (text, report) = audit_once(&dir, "charts/metallb", &[]);
    insta::assert_snapshot!("metallb_chart", text);
    let speaker = finding(&report, "critical-without-priority", "-speaker");
    assert_eq!(speaker["recommended_class"], "system-node-critical");
    assert_eq!(
        speaker["component"]["matched_by"],
        "image quay.io/metallb/speaker:v0.0.0 (charts/metallb/values.yaml:279)"
    );
    let controller = finding(&report, "critical-without-priority", "-controller");
    assert_eq!(controller["recommended_class"], "system-cluster-critical");
    assert_eq!(
        controller["component"]["matched_by"],
        "image quay.io/metallb/controller:v0.0.0 (charts/metallb/values.yaml:201)"
    );

    let (copy, changed) = fix_then_clean("metallb-7938d3f", "charts/metallb", &[]);
    assert_eq!(
        changed,
        ["charts/metallb/values.yaml"],
        "templates untouched"
    );
    let before = std::fs::read_to_string(dir.join("charts/metallb/values.yaml")).unwrap();
    let after = std::fs::read_to_string(copy.path().join("charts/metallb/values.yaml")).unwrap();
    let diff: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(
        diff,
        [
            (
                "  priorityClassName: \"\"",
                "  priorityClassName: \"system-cluster-critical\""
            ),
            (
                "  priorityClassName: \"\"",
                "  priorityClassName: \"system-node-critical\""
            ),
        ]
    );
    assert_eq!(before.lines().count(), after.lines().count());
}

#[test]
fn metallb_chart_values_file_sets_a_class_and_fix_changes_it_there() {
    let copy = copy_of("metallb-7938d3f");
    std::fs::write(
        copy.path().join("prod.yaml"),
        "speaker:\n  priorityClassName: system-cluster-critical\n",
    )
    .unwrap();
    let args = ["-f", "prod.yaml"];
    let (_, report) = audit_once(copy.path(), "charts/metallb", &args);
    let mut keys: Vec<(String, String)> = finding_keys(&report)
        .into_iter()
        .filter(|(_, severity, _)| severity != "info")
        .map(|(check, _, object)| (check, object.rsplit('-').next().unwrap().to_string()))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            ("critical-class-too-weak".to_string(), "speaker".to_string()),
            (
                "critical-without-priority".to_string(),
                "controller".to_string()
            ),
        ]
    );
    let fix = run_in(
        copy.path(),
        &["fix", "--write", "-f", "prod.yaml", "charts/metallb"],
    );
    assert_eq!(fix.status.code(), Some(0), "{}", stderr(&fix));
    let after = run_in(copy.path(), &["audit", "-f", "prod.yaml", "charts/metallb"]);
    assert_eq!(after.status.code(), Some(0), "{}", stdout(&after));
    let changed = changed_files(&tree("metallb-7938d3f"), copy.path());
    assert_eq!(changed, ["charts/metallb/values.yaml"]);
    assert_eq!(
        std::fs::read_to_string(copy.path().join("prod.yaml")).unwrap(),
        "speaker:\n  priorityClassName: system-node-critical\n",
        "the class is changed in the values file that set it"
    );
}

#[test]
fn metallb_kustomize_tree_flags_the_bases_not_the_patches() {
    let (text, _) = audit_once(&tree("metallb-7938d3f"), "config", &[]);
    insta::assert_snapshot!("metallb_config", text);
    let (_, changed) = fix_then_clean("metallb-7938d3f", "config", &[]);
    assert_eq!(
        changed,
        [
            "config/controllers/controller.yaml",
            "config/controllers/speaker.yaml"
        ]
    );
}

#[test]
fn ebs_csi_chart_reads_objects_from_helpers_and_nested_templates() {
    let dir = tree("aws-ebs-csi-driver-429e202");
    let (text, report) = audit_once(&dir, "charts/aws-ebs-csi-driver", &[]);
    insta::assert_snapshot!("ebs_chart", text);
    let components: Vec<&str> = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["object"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        components.len(),
        3,
        "controller, and the Linux and Windows node DaemonSets of _node.tpl and _node-windows.tpl: {components:?}"
    );
    let (_, changed) = fix_then_clean(
        "aws-ebs-csi-driver-429e202",
        "charts/aws-ebs-csi-driver",
        &[],
    );
    assert!(changed.is_empty(), "{changed:?}");

    // The plugin's image is made by a named template (`include "aws-ebs-csi-driver.fullImagePath"
    // $`, in _helpers.tpl); a policy entry for it shows what it renders to and from where.
    let policy = tempfile::tempdir().unwrap();
    let file = policy.path().join("policy.yaml");
    std::fs::write(
        &file,
        "components:\n- id: ebs-plugin\n  name: EBS CSI plugin\n  role: node-agent\n  images: [ebs-csi-driver/aws-ebs-csi-driver]\n",
    )
    .unwrap();
    let out = run_in(
        &dir,
        &[
            "audit",
            "-o",
            "json",
            "--policy",
            &file.display().to_string(),
            "charts/aws-ebs-csi-driver",
        ],
    );
    let matched: Vec<String> = json(&out)["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["component"]["matched_by"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        matched,
        vec![
            "image public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.64.0 (charts/aws-ebs-csi-driver/values.yaml:6)";
            3
        ]
    );

    // The same driver's kustomize tree (base and overlays): every class already set.
    let (text, _) = audit_once(&dir, "deploy/kubernetes", &[]);
    insta::assert_snapshot!("ebs_kustomize", text);
}

#[test]
fn ebs_csi_chart_with_a_values_file_is_fixed_in_that_file() {
    let copy = copy_of("aws-ebs-csi-driver-429e202");
    std::fs::write(
        copy.path().join("prod.yaml"),
        "controller:\n  priorityClassName: \"\"\n",
    )
    .unwrap();
    let args = ["-f", "prod.yaml"];
    let (text, report) = audit_once(copy.path(), "charts/aws-ebs-csi-driver", &args);
    insta::assert_snapshot!("ebs_chart_values", text);
    let f = finding(&report, "critical-without-priority", "ebs-csi-controller");
    assert_eq!(f["recommended_class"], "system-cluster-critical");
    let fix = run_in(
        copy.path(),
        &[
            "fix",
            "--write",
            "-f",
            "prod.yaml",
            "charts/aws-ebs-csi-driver",
        ],
    );
    assert_eq!(fix.status.code(), Some(0), "{}", stderr(&fix));
    assert_eq!(
        std::fs::read_to_string(copy.path().join("prod.yaml")).unwrap(),
        "controller:\n  priorityClassName: \"system-cluster-critical\"\n"
    );
    let after = run_in(
        copy.path(),
        &["audit", "-f", "prod.yaml", "charts/aws-ebs-csi-driver"],
    );
    assert_eq!(after.status.code(), Some(0), "{}", stdout(&after));
    let values = "charts/aws-ebs-csi-driver/values.yaml";
    assert_eq!(
        std::fs::read(copy.path().join(values)).unwrap(),
        std::fs::read(tree("aws-ebs-csi-driver-429e202").join(values)).unwrap(),
        "the chart's own values stay as they were"
    );
}

#[test]
fn a_missing_values_file_is_one_error_line() {
    let out = run_in(
        &tree("metallb-7938d3f"),
        &["audit", "-f", "missing.yaml", "charts/metallb"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: missing.yaml: cannot read values: no such file or directory\n"
    );
}
