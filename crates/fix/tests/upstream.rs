//! The upstream manifests of tests/data: each fix is exactly the line a maintainer would add
//! (Kubespray's own fix, for its Multus template), and the result audits clean.

mod common;
use common::*;

const ONE_WORKLOAD: [&str; 4] = [
    "kubespray/before-fix/multus-daemonset.yml.j2",
    "multus-cni/multus-daemonset.yml",
    "multus-cni/multus-daemonset-thick.yml",
    "multus-cni/multus-daemonset-crio.yml",
];

fn assert_clean(text: &str, file_name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, text).unwrap();
    let left: Vec<_> = audit(&[path])
        .into_iter()
        .filter(|f| pg_checks::is_fixable(f.check))
        .collect();
    assert!(left.is_empty(), "{left:#?}");
}

#[test]
fn kubespray_multus_gets_the_line_of_the_upstream_fix() {
    let (before, after) = fix_one(&data("kubespray/before-fix/multus-daemonset.yml.j2"));
    let added = added_lines(&before, &after);
    assert_eq!(added.len(), 1, "{added:?}");
    let (line, text) = &added[0];
    assert_eq!(text, "      priorityClassName: system-node-critical\n");
    // Right after `dnsPolicy`, as upstream put it ...
    let lines: Vec<&str> = after.lines().collect();
    assert_eq!(lines[line - 2], "      dnsPolicy: ClusterFirstWithHostNet");
    assert_eq!(lines[*line], "      nodeSelector:");
    // ... and the same line, between the same neighbours, as in the fixed upstream file.
    let upstream =
        std::fs::read_to_string(data("kubespray/after-fix/multus-daemonset.yml.j2")).unwrap();
    let theirs: Vec<&str> = upstream.lines().collect();
    let at = theirs
        .iter()
        .position(|l| l.trim() == "priorityClassName: system-node-critical")
        .unwrap();
    assert_eq!(theirs[at - 1..=at + 1], lines[line - 2..=*line]);
    // ... which is the one priority line the upstream diff adds.
    let diff = std::fs::read_to_string(data("kubespray/upstream-fix.diff")).unwrap();
    let priority_lines: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('+') && l.contains("priority"))
        .collect();
    assert_eq!(priority_lines, [format!("+{}", text.trim_end())]);
    assert_clean(&after, "multus-daemonset.yml.j2");
}

#[test]
fn one_added_line_per_critical_workload_and_nothing_else() {
    for (file, workloads) in ONE_WORKLOAD
        .iter()
        .map(|f| (*f, 1))
        .chain([("metallb/metallb-native.yaml", 2)])
    {
        let (before, after) = fix_one(&data(file));
        let added = added_lines(&before, &after);
        assert_eq!(added.len(), workloads, "{file}: {added:?}");
        for (_, line) in &added {
            assert!(
                line.trim_start().starts_with("priorityClassName: system-"),
                "{file}: {line}"
            );
        }
        let name = file.rsplit('/').next().unwrap();
        assert_clean(&after, name);
    }
}

#[test]
fn metallb_classes_follow_each_workloads_role() {
    let (before, after) = fix_one(&data("metallb/metallb-native.yaml"));
    let added: Vec<String> = added_lines(&before, &after)
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    assert_eq!(
        added,
        [
            "      priorityClassName: system-cluster-critical\n",
            "      priorityClassName: system-node-critical\n"
        ],
        "controller (a cluster service) first, then the speaker (a node agent)"
    );
}

#[test]
fn fixing_a_fixed_file_changes_nothing() {
    for file in ONE_WORKLOAD.iter().chain(&["metallb/metallb-native.yaml"]) {
        let (_, once) = fix_one(&data(file));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file.rsplit('/').next().unwrap());
        std::fs::write(&path, &once).unwrap();
        let (_, twice) = fix_one(&path);
        assert_eq!(once, twice, "{file}");
    }
}

#[test]
fn diffs_of_the_upstream_files() {
    for file in ONE_WORKLOAD.iter().chain(&["metallb/metallb-native.yaml"]) {
        let (before, after) = fix_one(&data(file));
        let diff = pg_fix::unified(file, &before, &after);
        insta::assert_snapshot!(file.replace('/', "__"), diff);
    }
}
