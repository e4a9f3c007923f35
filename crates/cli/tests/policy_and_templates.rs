//! `--policy` extends the catalog and changes severities; Helm values give a templated class
//! its default; the binary works as a kubectl plugin.

mod common;
use common::*;

#[test]
fn policy_adds_a_component_and_changes_severities() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("agent.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: acme-agent\n  namespace: ops\nspec:\n  template:\n    spec:\n      containers:\n      - name: agent\n        image: registry.example.com/acme/node-agent:2.1\n",
    )
    .unwrap();
    let path = manifest.display().to_string();
    // Unknown to the built-in catalog: only `no-priority` (info) with --all, exit 0.
    let out = priorityguard(&["audit", "--all", "-o", "json", &path]);
    assert_eq!(out.status.code(), Some(0));
    let keys = finding_keys(&json(&out));
    assert_eq!(
        keys,
        vec![(
            "no-priority".into(),
            "info".into(),
            "ops/DaemonSet/acme-agent".into()
        )]
    );

    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "components:\n- id: acme-agent\n  name: ACME node agent\n  role: node-agent\n  images: [acme/node-agent]\nchecks:\n  no-priority: warning\n",
    )
    .unwrap();
    let policy = policy.display().to_string();
    let out = priorityguard(&["audit", "--all", "--policy", &policy, "-o", "json", &path]);
    assert_eq!(out.status.code(), Some(1));
    let mut keys = finding_keys(&json(&out));
    keys.sort();
    assert_eq!(
        keys,
        vec![
            (
                "critical-without-priority".into(),
                "error".into(),
                "ops/DaemonSet/acme-agent".into()
            ),
            (
                "no-priority".into(),
                "warning".into(),
                "ops/DaemonSet/acme-agent".into()
            ),
        ]
    );
    let out = priorityguard(&["catalog", "--policy", &policy, "--explain", "acme-agent"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("recommended class: system-node-critical")
    );

    std::fs::write(
        dir.path().join("bad.yaml"),
        "components:\n- id: x\n  role: sometimes\n",
    )
    .unwrap();
    let out = priorityguard(&[
        "audit",
        "--policy",
        &dir.path().join("bad.yaml").display().to_string(),
        &path,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yaml"));
}

#[test]
fn helm_values_give_a_templated_class_its_default() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("kube-flannel");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    let template = std::fs::read_to_string(upstream("flannel/chart/templates/daemonset.yaml"))
        .unwrap()
        .replace(
            "priorityClassName: system-node-critical",
            "priorityClassName: {{ .Values.flannel.priorityClassName }}",
        );
    std::fs::write(chart.join("templates/daemonset.yaml"), template).unwrap();
    let values = std::fs::read_to_string(upstream("flannel/chart/values.yaml")).unwrap();
    let values = values.replacen(
        "flannel:\n",
        "flannel:\n  priorityClassName: system-cluster-critical\n",
        1,
    );
    assert!(
        values.contains("priorityClassName"),
        "values.yaml has a top-level flannel: key"
    );
    std::fs::write(chart.join("values.yaml"), values).unwrap();

    let out = priorityguard(&["audit", "-o", "json", &chart.display().to_string()]);
    let report = json(&out);
    let keys = finding_keys(&report);
    assert_eq!(keys.len(), 1, "{report}");
    assert_eq!(keys[0].0, "critical-class-too-weak");
    assert_eq!(
        report["findings"][0]["current_class"],
        "{{ .Values.flannel.priorityClassName }} (default system-cluster-critical)"
    );
}

#[test]
fn yaml_dump_of_a_pod_list_is_read_like_json() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: kube-multus-ds-abcde\n    namespace: kube-system\n    uid: 1\n    ownerReferences:\n    - apiVersion: apps/v1\n      kind: DaemonSet\n      name: kube-multus-ds\n      controller: true\n      uid: 2\n  spec:\n    containers:\n    - name: kube-multus\n      image: ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0\n    priority: 0\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: web\n    namespace: default\n    uid: 3\n  spec:\n    priorityClassName: system-cluster-critical\n    containers:\n    - name: web\n      image: nginx\n    priority: 2000000000\nkind: List\nmetadata:\n  resourceVersion: \"\"\n";
    let file = dir.path().join("pods.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = priorityguard(&["audit", "--all", "-o", "json", &file.display().to_string()]);
    let report = json(&out);
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "critical-without-priority")
        .unwrap();
    assert_eq!(f["object"]["name"], "kube-multus-ds");
    assert_eq!(f["pods"][0]["name"], "kube-multus-ds-abcde");
    assert_eq!(f["pods"][0]["location"]["line"], 3);
}

#[test]
fn works_as_a_kubectl_plugin() {
    let kubectl = pg_testenv::bin_dir().join("kubectl");
    if !kubectl.exists() {
        pg_testenv::skip!(
            "no kubectl in {}; run scripts/k8s-test-env",
            kubectl.display()
        );
    }
    let plugin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_kubectl-priorityguard"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        plugin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new(kubectl)
        .args([
            "priorityguard",
            "audit",
            &upstream("multus-cni/multus-daemonset.yml"),
        ])
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("error[critical-without-priority]"));
}
