//! The fixer's own judgement: the re-audit refuses a result that still has a finding it was
//! meant to fix (and only those), a part of a change that cannot be made is dropped with a
//! note while the rest is made, and standard input is read, audited and fixed as a whole.

mod common;
use common::*;
use pg_catalog::{Catalog, Policy};
use pg_checks::Config;
use pg_fix::{FixError, Options, Source, fix_text};
use pg_model::CheckId;
use std::path::Path;

/// The cluster's own classes, kept in a file of their own.
const CLASSES: &str = "\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: low
value: 10
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: node-agents
value: 1000000
";

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_class_that_is_still_too_weak_is_refused_by_the_re_audit() {
    let dir = tempfile::tempdir().unwrap();
    let classes = write(dir.path(), "classes.yaml", CLASSES);
    let file = write(
        dir.path(),
        "multus.yaml",
        &multus("      priorityClassName: low\n"),
    );
    let opts = Options {
        class: Some("node-agents".into()),
        ..Options::default()
    };
    let outcome = fix(&[classes, file.clone()], opts);
    assert!(outcome.files.is_empty(), "{:?}", outcome.files);
    let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [format!(
            "{}: the fixed text still has critical-class-too-weak for kube-system/DaemonSet/kube-multus-ds; left as it was",
            file.display()
        )]
    );
    assert!(matches!(outcome.errors[0], FixError::Verify { .. }));
}

#[test]
fn a_class_too_weak_by_the_value_another_file_gives_it_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let classes = write(dir.path(), "classes.yaml", CLASSES);
    let file = write(
        dir.path(),
        "multus.yaml",
        &multus("      priorityClassName: low\n"),
    );
    let outcome = fix(&[classes, file], Options::default());
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(
        outcome.files[0].after,
        multus("      priorityClassName: system-node-critical\n")
    );
}

#[test]
fn fixing_one_check_leaves_the_others_findings_without_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "multus.yaml", &multus("      priority: 1000\n"));
    let opts = Options {
        only: Some(CheckId::CriticalWithoutPriority),
        ..Options::default()
    };
    let outcome = fix(&[file], opts);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(
        outcome.files[0].after,
        multus("      priority: 1000\n      priorityClassName: system-node-critical\n"),
        "spec.priority (priority-set-directly) stays"
    );
}

#[test]
fn a_class_written_as_a_block_scalar_is_left_but_priority_still_goes() {
    let dir = tempfile::tempdir().unwrap();
    let class = "      priorityClassName: >-\n        system-cluster-critical\n";
    let file = write(
        dir.path(),
        "multus.yaml",
        &multus(&format!("      priority: 1000\n{class}")),
    );
    let outcome = fix(std::slice::from_ref(&file), Options::default());
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let notes: Vec<&str> = outcome.notes.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(
        notes,
        [
            "kube-system/DaemonSet/kube-multus-ds: the class is written as a block scalar; edit it by hand"
        ]
    );
    let [fixed] = outcome.files.as_slice() else {
        panic!("{:?}", outcome.files)
    };
    assert_eq!(fixed.after, multus(class));
    let change = &fixed.changes[0];
    assert_eq!(change.checks, [CheckId::PrioritySetDirectly]);
    assert_eq!((&change.class, change.remove_priority), (&None, true));
}

#[test]
fn a_priority_over_two_lines_is_left_but_the_class_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let priority = "      priority:\n        1000\n";
    let file = write(dir.path(), "multus.yaml", &multus(priority));
    let outcome = fix(std::slice::from_ref(&file), Options::default());
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let notes: Vec<&str> = outcome.notes.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(
        notes,
        [
            "kube-system/DaemonSet/kube-multus-ds: spec.priority is not a one-line value; delete it by hand"
        ]
    );
    let [fixed] = outcome.files.as_slice() else {
        panic!("{:?}", outcome.files)
    };
    assert_eq!(
        fixed.after,
        multus(&format!(
            "      priorityClassName: system-node-critical\n{priority}"
        ))
    );
    let change = &fixed.changes[0];
    assert_eq!(change.checks, [CheckId::CriticalWithoutPriority]);
    assert!(!change.remove_priority);
}

#[test]
fn standard_input_is_audited_and_fixed_as_a_whole() {
    let catalog = Catalog::builtin();
    let config = Config::new(false, &Policy::default());
    let text = multus("");
    let streamed = fix_text(
        Source::stdin(text.clone()),
        &catalog,
        &config,
        Options::default(),
        true,
    )
    .unwrap();
    let findings: Vec<String> = streamed
        .findings
        .iter()
        .map(|f| format!("{} {}", f.check, f.object))
        .collect();
    assert_eq!(
        findings,
        ["critical-without-priority kube-system/DaemonSet/kube-multus-ds"]
    );
    assert_eq!(
        streamed.text,
        multus("      priorityClassName: system-node-critical\n")
    );
    assert_eq!(streamed.changes.len(), 1);
    assert_eq!(&*streamed.changes[0].location.file, pg_fix::STDIN_NAME);
}

#[test]
fn standard_input_that_does_not_parse_is_one_error_naming_it() {
    let source = Source::stdin("kind: DaemonSet\nmetadata: {name: [\n".into());
    let err = pg_fix::read_objects(&source).unwrap_err();
    assert!(matches!(err, FixError::Parse { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with("<stdin>:") && message.contains("cannot parse it to fix it"),
        "{message}"
    );
    let objects = pg_fix::read_objects(&Source::stdin(multus(""))).unwrap();
    assert_eq!(objects.len(), 1);
}

#[test]
fn the_re_audit_of_a_helm_template_reads_the_charts_values() {
    let dir = tempfile::tempdir().unwrap();
    let classes = write(dir.path(), "classes.yaml", CLASSES);
    let chart = dir.path().join("multus");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    write(
        &chart,
        "Chart.yaml",
        "apiVersion: v2\nname: multus\nversion: 4.1.0\n",
    );
    // Only the image, from the values, says that this is Multus.
    write(
        &chart,
        "values.yaml",
        "image:\n  repository: ghcr.io/k8snetworkplumbingwg/multus-cni\n  tag: v4.1.0\n",
    );
    let template = "\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}-cni
spec:
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      priorityClassName: low
      containers:
      - name: cni
        image: {{ .Values.image.repository }}:{{ .Values.image.tag }}
";
    let file = write(&chart.join("templates"), "daemonset.yaml", template);
    let opts = Options {
        class: Some("node-agents".into()),
        ..Options::default()
    };
    let outcome = fix(&[classes, chart], opts);
    assert!(outcome.files.is_empty(), "{:?}", outcome.files);
    let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [format!(
            "{}: the fixed text still has critical-class-too-weak for DaemonSet/{{{{ .Release.Name }}}}-cni; left as it was",
            file.display()
        )]
    );
}

#[test]
fn the_same_daemonset_written_twice_is_fixed_in_both_places() {
    let dir = tempfile::tempdir().unwrap();
    let twice = format!("{}---\n{}", multus(""), multus(""));
    let file = write(dir.path(), "multus.yaml", &twice);
    let outcome = fix(std::slice::from_ref(&file), Options::default());
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.notes.is_empty(), "{:?}", outcome.notes);
    let fixed = multus("      priorityClassName: system-node-critical\n");
    assert_eq!(outcome.files[0].after, format!("{fixed}---\n{fixed}"));
    let name = file.display().to_string();
    let locations: Vec<String> = outcome.files[0]
        .changes
        .iter()
        .map(|c| c.location.to_string().replace(&name, "multus.yaml"))
        .collect();
    // The copy is named by where it starts; the finding's own place comes after it.
    assert_eq!(locations, ["multus.yaml:20:1", "multus.yaml:15:7"]);
}

#[test]
fn findings_without_an_edit_are_left_out_of_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    // A class nobody defined: `unknown-priority-class`, which fix has no edit for.
    let file = write(
        dir.path(),
        "multus.yaml",
        &multus("      priorityClassName: node-critical\n"),
    );
    let findings: Vec<String> = audit(std::slice::from_ref(&file))
        .iter()
        .map(|f| f.check.to_string())
        .collect();
    assert_eq!(findings, ["unknown-priority-class"]);
    let outcome = fix(&[file], Options::default());
    assert!(outcome.files.is_empty(), "{:?}", outcome.files);
    assert!(outcome.notes.is_empty(), "{:?}", outcome.notes);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
}

#[test]
fn a_file_changed_between_the_audit_and_the_fix_is_an_error_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "multus.yaml", &multus(""));
    let findings = audit(std::slice::from_ref(&file));
    // Someone adds a line at the top in the meantime.
    std::fs::write(&file, format!("# kube-multus\n{}", multus(""))).unwrap();
    let catalog = Catalog::builtin();
    let config = Config::new(false, &Policy::default());
    let fixer = pg_fix::Fixer::new(&[], &catalog, &config, Options::default());
    let plan = fixer.plan(&findings, |name| Source::read(Path::new(name)));
    assert_eq!(plan.changes().count(), 0);
    let errors: Vec<String> = plan.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [format!(
            "{}: changed since it was read; left as it was (run fix again)",
            file.display()
        )]
    );
}

#[test]
fn a_null_pod_spec_gets_a_note_instead_of_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let text = "\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-multus-ds
  namespace: kube-system
spec:
  template:
    metadata:
      labels:
        name: multus
    spec: ~
";
    let file = write(dir.path(), "multus.yaml", text);
    let outcome = fix(&[file], Options::default());
    assert!(outcome.files.is_empty() && outcome.errors.is_empty());
    let notes: Vec<&str> = outcome.notes.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(
        notes,
        [
            "critical-without-priority for kube-system/DaemonSet/kube-multus-ds: the workload's pod spec is empty or null (`spec: ~`); write its containers first"
        ]
    );
}

#[test]
fn standard_input_can_be_planned_without_being_changed() {
    let catalog = Catalog::builtin();
    let config = Config::new(false, &Policy::default());
    let text = multus("");
    let streamed = fix_text(
        Source::stdin(text.clone()),
        &catalog,
        &config,
        Options::default(),
        false,
    )
    .unwrap();
    assert_eq!(streamed.text, text);
    let changes: Vec<String> = streamed
        .changes
        .iter()
        .map(|c| format!("{} {:?}", c.object, c.class))
        .collect();
    assert_eq!(
        changes,
        ["kube-system/DaemonSet/kube-multus-ds Some(\"system-node-critical\")"]
    );
    // Nothing to fix: the text comes back as it was.
    let fixed = multus("      priorityClassName: system-node-critical\n");
    let streamed = fix_text(
        Source::stdin(fixed.clone()),
        &catalog,
        &config,
        Options::default(),
        true,
    )
    .unwrap();
    assert_eq!((streamed.text, streamed.changes.len()), (fixed, 0));
}

/// A pod of the Multus DaemonSet as `kubectl get pods -o yaml` lists it.
fn multus_pod(suffix: &str) -> String {
    format!(
        "\
- apiVersion: v1
  kind: Pod
  metadata:
    name: kube-multus-ds-{suffix}
    namespace: kube-system
    ownerReferences:
    - apiVersion: apps/v1
      kind: DaemonSet
      name: kube-multus-ds
      controller: true
  spec:
    containers:
    - name: kube-multus
      image: ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0
"
    )
}

#[test]
fn the_pods_of_one_owner_in_a_pod_list_are_all_fixed() {
    let dir = tempfile::tempdir().unwrap();
    // An ordinary pod between them, at the same column, is no twin of theirs.
    let web = "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: web\n    namespace: shop\n  spec:\n    containers:\n    - name: web\n      image: nginx:1.27\n";
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n{}{web}{}",
        multus_pod("abcde"),
        multus_pod("fghij")
    );
    let file = write(dir.path(), "pods.yaml", &list);
    let findings = audit(std::slice::from_ref(&file));
    assert_eq!(
        findings.len(),
        1,
        "one finding for the owner: {findings:#?}"
    );
    let outcome = fix(std::slice::from_ref(&file), Options::default());
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.notes.is_empty(), "{:?}", outcome.notes);
    let fixed = |pod: String| {
        pod.replace(
            "  spec:\n    containers:\n",
            "  spec:\n    priorityClassName: system-node-critical\n    containers:\n",
        )
    };
    assert_eq!(
        outcome.files[0].after,
        format!(
            "apiVersion: v1\nkind: List\nitems:\n{}{web}{}",
            fixed(multus_pod("abcde")),
            fixed(multus_pod("fghij"))
        )
    );
    let objects: Vec<String> = outcome.files[0]
        .changes
        .iter()
        .map(|c| format!("{} (reported as {})", c.object, c.reported_as))
        .collect();
    assert_eq!(
        objects,
        [
            "kube-system/Pod/kube-multus-ds-fghij (reported as kube-system/DaemonSet/kube-multus-ds)",
            "kube-system/Pod/kube-multus-ds-abcde (reported as kube-system/DaemonSet/kube-multus-ds)",
        ]
    );
}
