//! Inputs that used to be dropped silently or to make a limit lie (issue 14, items 3 to 7):
//! UTF-16 manifests, a List inside a List, limits that wrapped or named the wrong size, and
//! the questionable cases, each with the behaviour docs/fix.md's "Guarantees" promise.

mod common;
use common::*;
use std::process::{Command, Output, Stdio};

fn multus() -> String {
    std::fs::read_to_string(repo_root().join("examples/multus-daemonset.yml")).unwrap()
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    for unit in (if bom { "\u{feff}" } else { "" })
        .encode_utf16()
        .chain(text.encode_utf16())
    {
        bytes.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    bytes
}

fn run_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_priorityguard"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn utf16_manifests_with_a_byte_order_mark_are_read_like_kubectl_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("le.yml"), utf16(&multus(), false, true)).unwrap();
    std::fs::write(dir.path().join("be.yml"), utf16(&multus(), true, true)).unwrap();
    let out = run_in(dir.path(), &["audit", "-o", "json", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let keys = finding_keys(&json(&out));
    let multus_findings = keys
        .iter()
        .filter(|(check, _, object)| {
            check == "critical-without-priority" && object == "kube-system/DaemonSet/kube-multus-ds"
        })
        .count();
    assert_eq!(multus_findings, 2, "{keys:?}");
    // Standard input too.
    let out = priorityguard_stdin(&["audit", "-"], Some(&utf16(&multus(), false, true)));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn utf16_without_a_byte_order_mark_is_one_clear_error_not_a_silent_skip() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yml"), utf16(&multus(), false, false)).unwrap();
    let out = run_in(dir.path(), &["audit", "."]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("m.yml: looks like UTF-16 without a byte-order mark"),
        "{err}"
    );
}

#[test]
fn fix_refuses_to_write_utf16_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = utf16(&multus(), false, true);
    std::fs::write(dir.path().join("m.yml"), &bytes).unwrap();
    let out = run_in(dir.path(), &["fix", "--write", "m.yml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("UTF-16 text, which fix does not write"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.path().join("m.yml")).unwrap(), bytes);
}

#[test]
fn a_list_inside_a_list_is_refused_in_yaml_and_json() {
    let yaml = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - kind: Pod\n    metadata: {name: a}\n";
    let json = r#"{"apiVersion":"v1","kind":"List","items":[{"kind":"PodList","items":[{"kind":"Pod","metadata":{"name":"a"}}]}]}"#;
    for input in [yaml, json] {
        let out = priorityguard_stdin(&["audit", "-"], Some(input.as_bytes()));
        assert_eq!(out.status.code(), Some(2), "{input}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("a List inside a List"), "{err}");
    }
}

#[test]
fn max_yaml_size_never_wraps() {
    let file = upstream("multus-cni/multus-daemonset.yml");
    // 2^44 MiB is 2^64 bytes: refused as a usage error, not turned into 0.
    let out = priorityguard(&["audit", "--max-yaml-size", "17592186044416", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not in 0..=17592186044415"),
        "{}",
        stderr(&out)
    );
    let out = priorityguard(&["audit", "--max-yaml-size", "17592186044415", &file]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn a_json_item_over_the_limit_is_refused_alone_and_the_items_after_it_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pods.json");
    let big = "x".repeat(pg_sources::json::MAX_OBJECT_BYTES + 1);
    let pod = |name: &str, extra: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"kube-system","annotations":{{"a":"{extra}"}}}},"spec":{{"containers":[{{"name":"c","image":"ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot"}}]}}}}"#
        )
    };
    let text = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n{},\n{}\n]}}\n",
        pod("huge", &big),
        pod("after", "")
    );
    std::fs::write(&path, text).unwrap();
    drop(big);
    let out = run_in(dir.path(), &["audit", "--all", "-o", "json", "pods.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("pods.json:2:"), "{err}");
    assert!(err.contains("larger than 64 MiB"), "{err}");
    let keys = finding_keys(&json(&out));
    assert!(
        keys.iter().any(|(_, _, o)| o == "kube-system/Pod/after"),
        "{keys:?}"
    );
}

#[test]
fn a_policy_file_that_never_ends_or_is_binary_is_refused_quickly() {
    let file = upstream("multus-cni/multus-daemonset.yml");
    let out = priorityguard(&["audit", "--policy", "/dev/zero", &file]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/dev/zero: larger than 4 MiB"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yaml"), b"checks: {}\n\0\0").unwrap();
    let out = run_in(dir.path(), &["audit", "--policy", "p.yaml", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("p.yaml: binary data"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn standard_input_says_what_is_wrong_with_it() {
    let zeros = vec![0u8; 1 << 20];
    let out = priorityguard_stdin(&["audit", "-"], Some(&zeros));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("<stdin>: binary data (NUL bytes)"),
        "{}",
        stderr(&out)
    );

    let comments = "# a comment line of YAML\n".repeat(100_000);
    let out = priorityguard_stdin(
        &["audit", "--max-yaml-size", "1", "-"],
        Some(comments.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("more than 1.0 MiB of YAML on standard input (--max-yaml-size 1)")
            && err.contains("kubectl get -o json"),
        "{err}"
    );
}

#[test]
fn the_same_workload_twice_in_one_file_is_fixed_twice() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("twice.yml"),
        format!("{}---\n{}", multus(), multus()),
    )
    .unwrap();
    let out = run_in(dir.path(), &["fix", "--write", "twice.yml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fixed = std::fs::read_to_string(dir.path().join("twice.yml")).unwrap();
    assert_eq!(
        fixed
            .matches("priorityClassName: system-node-critical")
            .count(),
        2
    );
    let out = run_in(dir.path(), &["audit", "twice.yml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn two_pods_of_one_daemonset_in_a_pod_list_are_both_fixed() {
    let pod = |n: &str| {
        format!(
            r#"{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "kube-multus-ds-{n}", "namespace": "kube-system", "ownerReferences": [{{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kube-multus-ds", "controller": true, "uid": "u"}}]}}, "spec": {{"containers": [{{"name": "kube-multus", "image": "ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot"}}]}}}}"#
        )
    };
    let list = format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n{},\n{}\n]}}\n",
        pod("a"),
        pod("b")
    );
    let out = priorityguard_stdin(&["fix", "--write", "-"], Some(list.as_bytes()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fixed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        fixed
            .matches("\"priorityClassName\": \"system-node-critical\"")
            .count(),
        2,
        "{fixed}"
    );
}

#[test]
fn a_null_pod_spec_is_a_note_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let text = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: kube-multus-ds\n  namespace: kube-system\nspec:\n  template:\n    metadata:\n      labels: {app: multus}\n    spec: ~\n";
    std::fs::write(dir.path().join("null.yml"), text).unwrap();
    let out = run_in(dir.path(), &["fix", "--write", "null.yml"]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("pod spec is empty or null (`spec: ~`)"),
        "{err}"
    );
    assert!(!err.contains("changed since"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("null.yml")).unwrap(),
        text
    );
}

#[test]
fn names_and_namespaces_that_are_not_strings_are_refused_with_one_line() {
    for (field, value, what) in [
        ("name", "1e3", "metadata.name is a number"),
        ("name", "true", "metadata.name is a boolean"),
        ("namespace", "0x10", "metadata.namespace is a number"),
    ] {
        let yaml = multus().replace(
            "name: kube-multus-ds\n  namespace: kube-system",
            &if field == "name" {
                format!("name: {value}\n  namespace: kube-system")
            } else {
                format!("name: kube-multus-ds\n  namespace: {value}")
            },
        );
        assert!(yaml.contains(&format!("{field}: {value}")), "{field}");
        let out = priorityguard_stdin(&["audit", "-"], Some(yaml.as_bytes()));
        assert_eq!(out.status.code(), Some(2), "{field}: {value}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(what) && err.contains("not a string"), "{err}");
    }
    let json = r#"{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":1000,"namespace":"kube-system"},"spec":{"template":{"spec":{"containers":[{"name":"m","image":"ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot"}]}}}}"#;
    let out = priorityguard_stdin(&["audit", "-"], Some(json.as_bytes()));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("metadata.name is a number"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn fix_write_does_not_follow_a_symlink_out_of_the_walked_directory() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside.yml");
    std::fs::write(&outside, multus()).unwrap();
    std::fs::create_dir(dir.path().join("d2")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.path().join("d2/link.yml")).unwrap();
    let out = run_in(dir.path(), &["fix", "--write", "d2"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("d2/link.yml: a symlink to") && err.contains("outside the paths given"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), multus());
    // Named, the link is its own input: its target is fixed.
    let out = run_in(dir.path(), &["fix", "--write", "d2/link.yml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&outside)
            .unwrap()
            .contains("priorityClassName")
    );
    assert!(
        std::fs::symlink_metadata(dir.path().join("d2/link.yml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn deeply_nested_flow_collections_get_a_depth_error() {
    for (open, close) in [("{a: ", "}"), ("[", "]")] {
        let yaml = format!(
            "kind: Pod\nmetadata: {}1{}\n",
            open.repeat(300),
            close.repeat(300)
        );
        let out = priorityguard_stdin(&["audit", "-"], Some(yaml.as_bytes()));
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("nested too deeply"), "{err}");
    }
}
