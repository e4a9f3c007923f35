//! `priorityguard classes` on files: values, users and problems of every class.

mod common;
use common::*;

#[test]
fn classes_lists_values_users_and_problems() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("classes.yaml");
    std::fs::write(
        &file,
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: too-high\nvalue: 2000000000\n---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: batch\nvalue: 100\npreemptionPolicy: Never\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: report\nspec:\n  template:\n    spec:\n      priorityClassName: batch\n      containers:\n      - name: r\n        image: example.com/r:1\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: lost\nspec:\n  priorityClassName: gone\n  containers:\n  - name: c\n    image: busybox\n",
    )
    .unwrap();
    let out = priorityguard(&["classes", "--json", &file.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "problems exist");
    let rows = json(&out);
    let row = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing: {rows}"))
    };
    assert_eq!(row("batch")["preemption_policy"], "Never");
    assert_eq!(row("batch")["workloads"], 1);
    assert_eq!(row("system-node-critical")["value"], 2000001000);
    assert_eq!(row("system-node-critical")["builtin"], true);
    assert!(
        row("too-high")["problems"][0]
            .as_str()
            .unwrap()
            .contains("above 1000000000")
    );
    assert_eq!(row("gone")["pods"], 1);
    assert!(
        row("gone")["problems"][0]
            .as_str()
            .unwrap()
            .contains("not defined")
    );

    let table = priorityguard(&["classes", &file.display().to_string()]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.starts_with("NAME"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("batch") && l.contains("Never")),
        "{text}"
    );
}
