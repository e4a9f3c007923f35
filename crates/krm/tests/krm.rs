//! The KRM function on ResourceLists as kustomize and kpt write them, built from the upstream
//! Multus manifest: fixed items keep every other byte (comments, annotations), results name
//! the object and its file, the functionConfig's options apply, bad input is refused.

use pg_krm::{Output, run};

fn multus() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/upstream/multus-cni/multus-daemonset.yml"
    );
    std::fs::read_to_string(path).unwrap()
}

/// A ResourceList holding the manifest's documents as items, with the annotations kustomize
/// adds (path and index, internal and legacy), and `function_config` (indented YAML) if any.
fn resource_list(function_config: &str) -> String {
    let mut out = String::from("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n");
    for (index, doc) in multus().split("\n---\n").skip(1).enumerate() {
        let mut lines = Vec::new();
        for line in doc.lines() {
            lines.push(line.to_string());
            if line == "metadata:" {
                lines.push("  annotations:".into());
                for prefix in ["internal.config.kubernetes.io", "config.kubernetes.io"] {
                    lines.push(format!("    {prefix}/path: 'deploy/multus.yml'"));
                    lines.push(format!("    {prefix}/index: '{index}'"));
                }
            }
        }
        for (i, line) in lines.iter().enumerate() {
            let lead = if i == 0 { "- " } else { "  " };
            out.push_str(&format!("{lead}{line}\n"));
        }
    }
    if !function_config.is_empty() {
        out.push_str("functionConfig:\n");
        out.push_str(function_config);
    }
    out
}

fn results(out: &Output) -> Vec<serde_json::Value> {
    out.results
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

#[test]
fn fix_mode_sets_the_class_and_keeps_everything_else() {
    let input = resource_list("");
    let out = run(input.clone()).unwrap();
    assert!(!out.failed());
    let (body, appended) = out
        .text
        .split_at(out.text.find("\nresults:\n").unwrap() + 1);
    // The only change to the list itself: one line in the DaemonSet's pod spec.
    let added: Vec<&str> = body
        .lines()
        .filter(|l| !input.lines().any(|i| i == *l))
        .collect();
    assert_eq!(added, ["        priorityClassName: system-node-critical"]);
    assert_eq!(body.lines().count(), input.lines().count() + 1);
    assert!(body.contains("internal.config.kubernetes.io/index: '5'"));

    let results = results(&out);
    assert_eq!(results.len(), 1, "{appended}");
    let r = &results[0];
    assert_eq!(r["severity"], "info");
    assert_eq!(
        r["resourceRef"],
        serde_json::json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kube-multus-ds", "namespace": "kube-system"})
    );
    assert_eq!(
        r["file"],
        serde_json::json!({"path": "deploy/multus.yml", "index": 5})
    );
    assert_eq!(r["field"]["path"], "spec.template.spec.priorityClassName");
    assert_eq!(r["field"]["proposedValue"], "system-node-critical");
    assert_eq!(r["tags"]["check"], "critical-without-priority");

    // The output is a ResourceList whose results the spec's readers understand, and running
    // the function on its items again changes nothing.
    let parsed: serde_json::Value = serde_yaml_ng::from_str(&out.text).unwrap();
    assert_eq!(
        parsed["results"][0]["resourceRef"]["name"],
        "kube-multus-ds"
    );
    let again = run(body.to_string()).unwrap();
    assert_eq!(again.text, body);
    assert!(again.results.is_empty());
}

#[test]
fn audit_only_changes_nothing_and_fails() {
    let input = resource_list(
        "  apiVersion: priorityguard.dev/v1alpha1\n  kind: PriorityGuard\n  metadata: {name: pg}\n  spec: {mode: audit-only}\n",
    );
    let out = run(input.clone()).unwrap();
    assert!(out.failed());
    assert!(out.text.starts_with(&input));
    let r = &results(&out)[0];
    assert_eq!(r["severity"], "error");
    assert_eq!(r["field"]["proposedValue"], "system-node-critical");
    assert!(
        out.results[0]
            .line()
            .starts_with("error: deploy/multus.yml[5]: DaemonSet kube-system/kube-multus-ds: ")
    );
}

#[test]
fn config_map_options_apply() {
    // kpt's `key=value` arguments arrive as a ConfigMap; its policy is a --policy file.
    let config = "  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: pg}\n  data:\n    class: node-agents\n    policy: |\n      checks: {critical-without-priority: warning}\n";
    let out = run(resource_list(config)).unwrap();
    assert!(
        out.text
            .contains("        priorityClassName: node-agents\n")
    );
    let r = &results(&out)[0];
    assert_eq!(r["field"]["proposedValue"], "node-agents");

    let audit = "  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: pg}\n  data:\n    mode: audit-only\n    policy: |\n      checks: {critical-without-priority: warning}\n";
    let out = run(resource_list(audit)).unwrap();
    assert!(!out.failed(), "a warning does not fail");
    assert_eq!(results(&out)[0]["severity"], "warning");
}

#[test]
fn bad_input_is_refused_in_one_line() {
    let cases = [
        ("a: [\n", "<stdin>:2:"),
        (
            "apiVersion: v1\nkind: List\nitems: []\n",
            "not a ResourceList",
        ),
        (
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n---\na: 1\n",
            "2 YAML documents",
        ),
        (
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nresults: []\n",
            "already has results",
        ),
        (
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig: {kind: ConfigMap, data: {mod: fix}}\n",
            "data.mod: unknown key",
        ),
        (
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig: {kind: ConfigMap, data: {mode: fixit}}\n",
            "want fix or audit-only",
        ),
        (
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig: {kind: PriorityGuard, spec: {mdoe: fix}}\n",
            "mdoe",
        ),
        (
            "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig: {kind: Secret}\n",
            "want PriorityGuard or ConfigMap",
        ),
        (
            "{\"apiVersion\": \"config.kubernetes.io/v1\", \"kind\": \"ResourceList\", \"items\": []}\n",
            "flow style",
        ),
    ];
    for (input, want) in cases {
        let e = run(input.to_string()).expect_err(input).to_string();
        assert!(e.contains(want), "{input:?}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
    // An empty list is fine and has no results.
    let empty = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n";
    assert_eq!(run(empty.into()).unwrap().text, empty);
}
