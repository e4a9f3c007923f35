//! Helm charts: a class that a chart value decides is fixed in `values.yaml` (the template
//! stays as it is), each pod spec through its own value; `--template-expr` writes the
//! expression into the template and the class into `values.yaml`.

mod common;
use common::*;
use pg_fix::{Options, Outcome};
use std::path::{Path, PathBuf};

const VALUES: &str = "\
# Default values for metallb.
controller:
  image:
    repository: quay.io/metallb/controller
    tag: v0.14.8
  priorityClassName: \"\"
speaker:
  image:
    repository: quay.io/metallb/speaker
    tag: v0.14.8
  # The class of the speaker pods.
  priorityClassName: \"\"
";

/// The controller's pod spec.
const CONTROLLER_HEAD: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-controller
  namespace: {{ .Release.Namespace }}
spec:
  selector:
    matchLabels:
      component: controller
  template:
    metadata:
      labels:
        component: controller
    spec:
      serviceAccountName: controller
";

const CONTROLLER_CLASS: &str = "\
      {{- if .Values.controller.priorityClassName }}
      priorityClassName: {{ .Values.controller.priorityClassName | quote }}
      {{- end }}
";

const CONTROLLER_TAIL: &str = "\
      containers:
      - name: controller
        image: {{ .Values.controller.image.repository }}:{{ .Values.controller.image.tag }}
";

/// The speaker: its class key sits after other keys, a blank line and a comment at column 0,
/// inside a `with` on the (empty) value.
const SPEAKER: &str = "\
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}-speaker
  namespace: {{ .Release.Namespace }}
spec:
  selector:
    matchLabels:
      component: speaker
  template:
    metadata:
      labels:
        component: speaker
    spec:
      serviceAccountName: speaker
      hostNetwork: true

# Set speaker.priorityClassName in values.yaml.
      {{- with .Values.speaker.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      containers:
      - name: speaker
        image: {{ .Values.speaker.image.repository }}:{{ .Values.speaker.image.tag }}
";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A MetalLB-like chart with these templates (by name) and values; returns its directory.
fn chart(dir: &Path, templates: &[(&str, &str)], values: Option<&str>) -> PathBuf {
    let chart = dir.join("metallb");
    write(
        &chart.join("Chart.yaml"),
        "apiVersion: v2\nname: metallb\nversion: 0.14.8\n",
    );
    if let Some(values) = values {
        write(&chart.join("values.yaml"), values);
    }
    for (name, text) in templates {
        write(&chart.join("templates").join(name), text);
    }
    chart
}

/// The new text of each file the fix changes, by its name under `chart`.
fn changed(outcome: &Outcome, chart: &Path) -> Vec<(String, String)> {
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    outcome
        .files
        .iter()
        .map(|f| {
            let path = f.source.path.as_ref().unwrap();
            let name = path.strip_prefix(chart).unwrap().display().to_string();
            (name, f.after.clone())
        })
        .collect()
}

#[test]
fn each_workload_gets_its_class_in_its_own_value() {
    let dir = tempfile::tempdir().unwrap();
    let template = [CONTROLLER_HEAD, CONTROLLER_CLASS, CONTROLLER_TAIL, SPEAKER].concat();
    let chart = chart(dir.path(), &[("metallb.yaml", &template)], Some(VALUES));
    let outcome = fix(std::slice::from_ref(&chart), Options::default());
    assert!(outcome.notes.is_empty(), "{:?}", outcome.notes);
    let values = VALUES
        .replacen(
            "priorityClassName: \"\"",
            "priorityClassName: \"system-cluster-critical\"",
            1,
        )
        .replacen(
            "priorityClassName: \"\"",
            "priorityClassName: \"system-node-critical\"",
            1,
        );
    assert_eq!(
        changed(&outcome, &chart),
        [("values.yaml".to_string(), values)],
        "the template stays as it is"
    );
    let changes: Vec<String> = outcome.files[0]
        .changes
        .iter()
        .map(|c| format!("{} {:?}", c.object, c.class))
        .collect();
    assert_eq!(
        changes,
        [
            "{{ .Release.Namespace }}/Deployment/{{ .Release.Name }}-controller Some(\"system-cluster-critical\")",
            "{{ .Release.Namespace }}/DaemonSet/{{ .Release.Name }}-speaker Some(\"system-node-critical\")",
        ]
    );
}

#[test]
fn a_pod_spec_without_a_class_key_is_fixed_in_the_template_not_in_the_next_ones_value() {
    let dir = tempfile::tempdir().unwrap();
    let template = [CONTROLLER_HEAD, CONTROLLER_TAIL, SPEAKER].concat();
    let chart = chart(dir.path(), &[("metallb.yaml", &template)], Some(VALUES));
    let outcome = fix(std::slice::from_ref(&chart), Options::default());
    assert!(outcome.notes.is_empty(), "{:?}", outcome.notes);
    let fixed_template = [
        CONTROLLER_HEAD,
        "      priorityClassName: system-cluster-critical\n",
        CONTROLLER_TAIL,
        SPEAKER,
    ]
    .concat();
    let values = VALUES.replace(
        "  # The class of the speaker pods.\n  priorityClassName: \"\"",
        "  # The class of the speaker pods.\n  priorityClassName: \"system-node-critical\"",
    );
    assert_eq!(
        changed(&outcome, &chart),
        [
            ("templates/metallb.yaml".to_string(), fixed_template),
            ("values.yaml".to_string(), values),
        ]
    );
}

/// `--template-expr`: the expression for every pod spec that needs a class.
fn template_expr() -> Options {
    Options {
        template_expr: Some("{{ .Values.priorityClassName }}".into()),
        ..Options::default()
    }
}

/// The speaker without any class (the controller's part of the chart is left out).
fn speaker_without_class() -> String {
    SPEAKER
        .trim_start_matches("---\n")
        .replace(
            "      {{- with .Values.speaker.priorityClassName }}\n      priorityClassName: {{ . }}\n      {{- end }}\n",
            "",
        )
}

#[test]
fn template_expr_writes_the_expression_and_sets_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let speaker = speaker_without_class();
    let chart = chart(dir.path(), &[("speaker.yaml", &speaker)], Some(VALUES));
    let outcome = fix(std::slice::from_ref(&chart), template_expr());
    assert!(outcome.notes.is_empty(), "{:?}", outcome.notes);
    let template = speaker.replace(
        "      hostNetwork: true\n",
        "      hostNetwork: true\n      priorityClassName: {{ .Values.priorityClassName }}\n",
    );
    assert_eq!(
        changed(&outcome, &chart),
        [
            ("templates/speaker.yaml".to_string(), template),
            (
                "values.yaml".to_string(),
                format!("{VALUES}priorityClassName: system-node-critical\n")
            ),
        ]
    );
}

#[test]
fn template_expr_for_workloads_that_need_different_classes_sets_the_first_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let controller = [CONTROLLER_HEAD, CONTROLLER_TAIL].concat();
    let speaker = speaker_without_class();
    let chart = chart(
        dir.path(),
        &[("controller.yaml", &controller), ("speaker.yaml", &speaker)],
        Some(VALUES),
    );
    let outcome = fix(std::slice::from_ref(&chart), template_expr());
    let files = changed(&outcome, &chart);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "templates/controller.yaml",
            "templates/speaker.yaml",
            "values.yaml"
        ]
    );
    assert_eq!(
        files[2].1,
        format!("{VALUES}priorityClassName: system-cluster-critical\n")
    );
    let notes: Vec<(String, &str)> = outcome
        .notes
        .iter()
        .map(|n| {
            (
                n.location.replace(&chart.display().to_string(), "[chart]"),
                n.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        notes,
        [(
            "[chart]/values.yaml".to_string(),
            "priorityClassName is used by workloads that need system-cluster-critical and system-node-critical; it is set to system-cluster-critical"
        )]
    );
}

#[test]
fn template_expr_for_workloads_that_need_the_same_class_sets_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let speaker = speaker_without_class();
    let other = speaker.replace("-speaker", "-speaker-canary");
    let chart = chart(
        dir.path(),
        &[("speaker.yaml", &speaker), ("speaker-canary.yaml", &other)],
        Some(VALUES),
    );
    let outcome = fix(std::slice::from_ref(&chart), template_expr());
    assert!(outcome.notes.is_empty(), "{:?}", outcome.notes);
    let files = changed(&outcome, &chart);
    assert_eq!(files.len(), 3);
    assert_eq!(
        files[2],
        (
            "values.yaml".to_string(),
            format!("{VALUES}priorityClassName: system-node-critical\n")
        )
    );
}

#[test]
fn template_expr_in_a_chart_without_values_yaml_says_where_to_set_it() {
    let dir = tempfile::tempdir().unwrap();
    let speaker = speaker_without_class();
    let chart = chart(dir.path(), &[("speaker.yaml", &speaker)], None);
    let outcome = fix(std::slice::from_ref(&chart), template_expr());
    let messages: Vec<&str> = outcome.notes.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "{{ .Release.Namespace }}/DaemonSet/{{ .Release.Name }}-speaker: the chart has no values.yaml; set priorityClassName in the chart's values"
        ]
    );
    let names: Vec<String> = changed(&outcome, &chart)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["templates/speaker.yaml"]);
}
