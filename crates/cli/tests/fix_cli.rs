//! `priorityguard fix` on files, through the binary: diffs, exit codes, --write, stdin,
//! --only/--class, Helm --template-expr, and every --emit format (kustomize built by the real
//! kubectl).

mod common;
use common::*;
use std::path::{Path, PathBuf};

const UPSTREAM: [&str; 5] = [
    "kubespray/before-fix/multus-daemonset.yml.j2",
    "multus-cni/multus-daemonset.yml",
    "multus-cni/multus-daemonset-thick.yml",
    "multus-cni/multus-daemonset-crio.yml",
    "metallb/metallb-native.yaml",
];

/// Test data, relative to the repository root (where the binary runs).
fn data(rel: &str) -> String {
    format!("crates/fix/tests/data/{rel}")
}

fn copy_to(dir: &Path, rel: &str) -> PathBuf {
    let to = dir.join(rel.rsplit('/').next().unwrap());
    std::fs::copy(repo_root().join(data(rel)), &to).unwrap();
    to
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn diff_is_the_default_and_exits_0() {
    for rel in UPSTREAM {
        let file = data(rel);
        let out = priorityguard(&["fix", &file]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let also = priorityguard(&["fix", "--diff", &file]);
        assert_eq!(stdout(&also), stdout(&out));
        insta::assert_snapshot!(rel.replace('/', "__"), stdout(&out));
    }
}

#[test]
fn check_write_check_and_the_kubespray_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = copy_to(dir.path(), "kubespray/before-fix/multus-daemonset.yml.j2");
    let before = std::fs::read_to_string(&file).unwrap();

    let check = priorityguard(&["fix", "--check", &path(&file)]);
    assert_eq!(check.status.code(), Some(1));
    assert!(stdout(&check).is_empty(), "--check alone prints no diff");
    assert!(stderr(&check).contains("would fix"), "{}", stderr(&check));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    let both = priorityguard(&["fix", "--check", "--diff", &path(&file)]);
    assert_eq!(both.status.code(), Some(1));
    assert!(stdout(&both).contains("+      priorityClassName: system-node-critical"));

    let write = priorityguard(&["fix", "--write", &path(&file)]);
    assert_eq!(write.status.code(), Some(0), "{}", stderr(&write));
    assert!(stdout(&write).is_empty());
    let after = std::fs::read_to_string(&file).unwrap();
    let expected = before.replace(
        "      dnsPolicy: ClusterFirstWithHostNet\n",
        "      dnsPolicy: ClusterFirstWithHostNet\n      priorityClassName: system-node-critical\n",
    );
    assert_eq!(after, expected, "exactly the upstream fix's priority line");

    let again = priorityguard(&["fix", "--check", &path(&file)]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let rewrite = priorityguard(&["fix", "--write", &path(&file)]);
    assert_eq!(rewrite.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        after,
        "twice = once"
    );
    let audit = priorityguard(&["audit", "-o", "json", &path(&file)]);
    assert_eq!(audit.status.code(), Some(0));
    assert!(finding_keys(&json(&audit)).is_empty());
}

#[test]
fn stdin_diffs_and_filters() {
    let multus = std::fs::read(repo_root().join(data("multus-cni/multus-daemonset.yml"))).unwrap();
    let diff = priorityguard_stdin(&["fix", "-"], Some(&multus));
    assert_eq!(diff.status.code(), Some(0), "{}", stderr(&diff));
    assert!(stdout(&diff).starts_with("--- a/<stdin>\n+++ b/<stdin>\n"));
    let filtered = priorityguard_stdin(&["fix", "--write", "-"], Some(&multus));
    assert_eq!(filtered.status.code(), Some(0));
    let (before, after) = (String::from_utf8(multus).unwrap(), stdout(&filtered));
    assert_eq!(after.lines().count(), before.lines().count() + 1);
    let clean = priorityguard_stdin(&["fix", "--write", "-"], Some(after.as_bytes()));
    assert_eq!(stdout(&clean), after, "nothing to fix: passed through");
}

#[test]
fn only_class_and_priority() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ds.yaml");
    let text = "\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-multus-ds
  namespace: kube-system
spec:
  template:
    spec:
      priority: 1000
      containers:
      - name: m
        image: ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0
";
    std::fs::write(&file, text).unwrap();
    let only = priorityguard(&["fix", "--only", "priority-set-directly", &path(&file)]);
    let diff = stdout(&only);
    assert!(diff.contains("-      priority: 1000\n"), "{diff}");
    assert!(
        !diff
            .lines()
            .any(|l| l.starts_with('+') && !l.starts_with("+++")),
        "{diff}"
    );
    let class = priorityguard(&["fix", "--write", "--class", "node-agents", &path(&file)]);
    assert_eq!(class.status.code(), Some(0), "{}", stderr(&class));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text.replace("priority: 1000", "priorityClassName: node-agents"),
        "the removed priority line's place"
    );
    let bad = priorityguard(&["fix", "--only", "no-priority", &path(&file)]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("fixable checks are"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn helm_template_expression_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    let template = chart.join("templates/daemonset.yaml");
    let original =
        std::fs::read_to_string(repo_root().join(data("flannel/chart/templates/daemonset.yaml")))
            .unwrap();
    let unfixed = original.replace("      priorityClassName: system-node-critical\n", "");
    assert_ne!(unfixed, original);
    std::fs::write(&template, &unfixed).unwrap();
    std::fs::copy(
        repo_root().join(data("flannel/chart/values.yaml")),
        chart.join("values.yaml"),
    )
    .unwrap();
    let values_before = std::fs::read_to_string(chart.join("values.yaml")).unwrap();

    let out = priorityguard(&[
        "fix",
        "--write",
        "--template-expr",
        "{{ .Values.priorityClassName }}",
        &path(&chart),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fixed = std::fs::read_to_string(&template).unwrap();
    assert_eq!(
        fixed,
        unfixed.replace(
            "    spec:\n      affinity:",
            "    spec:\n      priorityClassName: {{ .Values.priorityClassName }}\n      affinity:"
        )
    );
    assert_eq!(
        std::fs::read_to_string(chart.join("values.yaml")).unwrap(),
        format!("{values_before}priorityClassName: system-node-critical\n")
    );
    let audit = priorityguard(&["audit", "-o", "json", &path(&chart)]);
    assert_eq!(audit.status.code(), Some(0));
    let report = json(&audit);
    assert!(finding_keys(&report).is_empty(), "{report}");
    assert_eq!(report["components"][0]["protected"], true, "{report}");
}

/// The real kubectl from scripts/k8s-test-env, or `None` (after a SKIPPED line) outside CI.
fn kubectl() -> Option<PathBuf> {
    let kubectl = pg_testenv::bin_dir().join("kubectl");
    if kubectl.is_file() {
        return Some(kubectl);
    }
    pg_testenv::skip(&format!(
        "kubectl not found at {}; run scripts/k8s-test-env",
        kubectl.display()
    ));
    None
}

fn kustomize(kubectl: &Path, dir: &Path) -> String {
    let out = std::process::Command::new(kubectl)
        .args(["kustomize", &path(dir)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn kustomize_patches_build_with_kubectl_and_audit_clean() {
    let Some(kubectl) = kubectl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let vendored = copy_to(dir.path(), "metallb/metallb-native.yaml");
    let original = std::fs::read(&vendored).unwrap();

    // --out: patch files and a kustomization.yaml next to the vendored manifest.
    let out = priorityguard(&[
        "fix",
        "--emit",
        "kustomize",
        "--out",
        &path(dir.path()),
        &path(&vendored),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&vendored).unwrap(),
        original,
        "left as vendored"
    );
    let built = dir.path().join("built.yaml");
    std::fs::write(&built, kustomize(&kubectl, dir.path())).unwrap();
    let audit = priorityguard(&["audit", "-o", "json", &path(&built)]);
    assert_eq!(audit.status.code(), Some(0), "{}", stdout(&audit));
    assert!(finding_keys(&json(&audit)).is_empty());
    let again = priorityguard(&["fix", "--check", &path(&built)]);
    assert_eq!(again.status.code(), Some(0));

    // stdout: one multi-document patch file, added to a kustomization by hand.
    let by_hand = tempfile::tempdir().unwrap();
    copy_to(by_hand.path(), "metallb/metallb-native.yaml");
    let patches = priorityguard(&[
        "fix",
        "--emit",
        "kustomize",
        &data("metallb/metallb-native.yaml"),
    ]);
    std::fs::write(
        by_hand.path().join("priorityguard-patches.yaml"),
        stdout(&patches),
    )
    .unwrap();
    std::fs::write(
        by_hand.path().join("kustomization.yaml"),
        "resources:\n- metallb-native.yaml\npatches:\n- path: priorityguard-patches.yaml\n",
    )
    .unwrap();
    let built = by_hand.path().join("built.yaml");
    std::fs::write(&built, kustomize(&kubectl, by_hand.path())).unwrap();
    let audit = priorityguard(&["audit", "-o", "json", &path(&built)]);
    assert_eq!(audit.status.code(), Some(0), "{}", stdout(&audit));
}

#[test]
fn kubectl_and_json_patches() {
    let file = data("metallb/metallb-native.yaml");
    let out = priorityguard(&["fix", "--emit", "kubectl", &file]);
    assert_eq!(out.status.code(), Some(0));
    let commands: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert_eq!(
        commands,
        [
            r#"kubectl patch deployment controller -n metallb-system --type=merge --field-manager=priorityguard -p '{"spec":{"template":{"spec":{"priorityClassName":"system-cluster-critical"}}}}'"#,
            r#"kubectl patch daemonset speaker -n metallb-system --type=merge --field-manager=priorityguard -p '{"spec":{"template":{"spec":{"priorityClassName":"system-node-critical"}}}}'"#,
        ]
    );

    // A CronJob's pod spec is under jobTemplate.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "components:\n- id: etcd-backup\n  name: etcd backup\n  role: cluster-service\n  names: [etcd-backup]\n",
    )
    .unwrap();
    let cron = dir.path().join("cron.yaml");
    std::fs::write(
        &cron,
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: etcd-backup, namespace: kube-system}\nspec:\n  schedule: '@daily'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          priority: 5\n          containers: [{name: b, image: backup:1}]\n",
    )
    .unwrap();
    let out = priorityguard(&[
        "fix",
        "--emit",
        "json-patch",
        "--policy",
        &path(&policy),
        &path(&cron),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let patches = json(&out);
    assert_eq!(patches[0]["target"]["kind"], "CronJob");
    assert_eq!(
        patches[0]["patch"],
        serde_json::json!([
            {"op": "add", "path": "/spec/jobTemplate/spec/template/spec/priorityClassName", "value": "system-cluster-critical"},
            {"op": "remove", "path": "/spec/jobTemplate/spec/template/spec/priority"}
        ])
    );
}

#[test]
fn files_and_cluster_are_exclusive_and_bad_input_is_exit_2() {
    let file = data("multus-cni/multus-daemonset.yml");
    let both = priorityguard(&["fix", "--cluster", &file]);
    assert_eq!(both.status.code(), Some(2));
    let neither = priorityguard(&["fix"]);
    assert_eq!(neither.status.code(), Some(2));
    let emit_write = priorityguard(&["fix", "--write", "--emit", "kubectl", &file]);
    assert_eq!(emit_write.status.code(), Some(2));
    let missing = priorityguard(&["fix", "no/such/file.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(stderr(&missing).lines().count(), 1, "{}", stderr(&missing));
    assert!(stderr(&missing).contains("no/such/file.yaml"));
}
