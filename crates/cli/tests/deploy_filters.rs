//! `fix --post-render` and `krm` as the filters Helm and kustomize run: stdin to stdout, every
//! byte but the fix kept, one line on stderr and a non-zero exit on bad input.

mod common;
use common::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn post_render_adds_only_the_class() {
    let input = std::fs::read_to_string(upstream("multus-cni/multus-daemonset.yml")).unwrap();
    let out = priorityguard_stdin(&["fix", "--post-render"], Some(input.as_bytes()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let output = text(&out.stdout);
    // Comments, order, everything: the input with one line inserted.
    let mut expected: Vec<&str> = input.lines().collect();
    let at = expected
        .iter()
        .position(|l| *l == "      hostNetwork: true")
        .unwrap();
    expected.insert(at + 1, "      priorityClassName: system-node-critical");
    assert_eq!(output.lines().collect::<Vec<_>>(), expected);
    assert!(output.starts_with("# Note:\n"));

    // Its own output, and a manifest that has its class, go through byte for byte.
    let again = priorityguard_stdin(&["fix", "--post-render"], Some(output.as_bytes()));
    assert_eq!(text(&again.stdout), output);
    let flannel = std::fs::read(upstream("flannel/kube-flannel.yml")).unwrap();
    let same = priorityguard_stdin(&["fix", "--post-render", "--audit-only"], Some(&flannel));
    assert!(same.status.success(), "{}", text(&same.stderr));
    assert_eq!(same.stdout, flannel);
}

#[test]
fn post_render_policy_and_class_apply() {
    let input = std::fs::read(upstream("multus-cni/multus-daemonset.yml")).unwrap();
    let out = priorityguard_stdin(
        &["fix", "--post-render", "--class", "node-agents"],
        Some(&input),
    );
    assert!(text(&out.stdout).contains("      priorityClassName: node-agents\n"));
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "checks:\n  critical-without-priority: off\n").unwrap();
    let policy = policy.display().to_string();
    let out = priorityguard_stdin(
        &["fix", "--post-render", "--audit-only", "--policy", &policy],
        Some(&input),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, input);
}

#[test]
fn post_render_audit_only_fails_in_one_line_per_workload() {
    let input = std::fs::read(upstream("multus-cni/multus-daemonset.yml")).unwrap();
    let out = priorityguard_stdin(&["fix", "--post-render", "--audit-only"], Some(&input));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "priorityguard --audit-only: kube-system/DaemonSet/kube-multus-ds needs priorityClassName system-node-critical (critical-without-priority); nothing was changed\n"
    );
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for args in [&["fix", "--post-render"][..], &["krm"]] {
        for input in [&b"a: [\n"[..], b"\xff\xfe"] {
            let out = priorityguard_stdin(args, Some(input));
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert!(out.stdout.is_empty(), "{args:?}");
            let err = text(&out.stderr);
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(err.starts_with("error: <stdin>"), "{args:?}: {err}");
        }
    }
    // --post-render reads stdin only.
    let out = priorityguard(&["fix", "--post-render", "examples/multus-daemonset.yml"]);
    assert_eq!(out.status.code(), Some(2));
}
