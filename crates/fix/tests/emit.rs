//! `fix --emit`: the changes of real-looking manifests (a Multus DaemonSet, CoreDNS and
//! metrics-server Deployments, a bare Pod, a Job, a CronJob, a Helm chart's CronJob and
//! DaemonSet) as kustomize patches, `kubectl patch` commands and JSON patches, on standard
//! output or as files in a directory. The temporary directory shows as `[dir]`.

mod common;
use common::*;
use pg_fix::emit::{self, Emitted, Format};
use pg_fix::{Change, Options};
use std::path::{Path, PathBuf};

const COREDNS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
spec:
  selector:
    matchLabels:
      k8s-app: kube-dns
  template:
    metadata:
      labels:
        k8s-app: kube-dns
    spec:
      containers:
      - name: coredns
        image: registry.k8s.io/coredns/coredns:v1.11.1
";

/// A dotted name: dots are kept in file names, other characters become dashes.
const METRICS_SERVER: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: metrics-server-v0.7.1
  namespace: kube-system
spec:
  selector:
    matchLabels:
      k8s-app: metrics-server
  template:
    metadata:
      labels:
        k8s-app: metrics-server
    spec:
      containers:
      - name: metrics-server
        image: registry.k8s.io/metrics-server/metrics-server:v0.7.1
";

/// A bare pod without `apiVersion` or namespace: patches say `v1`, and kubectl cannot patch
/// its class.
const POD: &str = "\
kind: Pod
metadata:
  name: kube-multus
spec:
  hostNetwork: true
  containers:
  - name: kube-multus
    image: ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0
";

/// Ordinary workloads with `spec.priority` written by hand: a Job (whose template kubectl
/// cannot patch) and a CronJob of an older API version, without namespace.
const JOBS: &str = "\
apiVersion: batch/v1
kind: Job
metadata:
  name: db-migrate
  namespace: shop
spec:
  template:
    spec:
      priority: 1000
      restartPolicy: Never
      containers:
      - name: migrate
        image: registry.invalid/shop/web:1.2
---
apiVersion: batch/v1beta1
kind: CronJob
metadata:
  name: nightly-report
spec:
  schedule: \"0 3 * * *\"
  jobTemplate:
    spec:
      template:
        spec:
          priority: 1000
          restartPolicy: OnFailure
          containers:
          - name: report
            image: registry.invalid/shop/report:1.2
";

/// A Helm chart: the CronJob's `apiVersion` is a template (patches use `batch/v1`), and the
/// DaemonSet's name is one (no patch can name it).
const CHART_TEMPLATE: &str = "\
apiVersion: {{ include \"common.capabilities.cronjob.apiVersion\" . }}
kind: CronJob
metadata:
  name: nightly-report
  namespace: {{ .Release.Namespace }}
spec:
  schedule: \"0 3 * * *\"
  jobTemplate:
    spec:
      template:
        spec:
          priority: 1000
          restartPolicy: OnFailure
          containers:
          - name: report
            image: {{ .Values.image }}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}-speaker
spec:
  selector:
    matchLabels:
      component: speaker
  template:
    metadata:
      labels:
        component: speaker
    spec:
      hostNetwork: true
      containers:
      - name: speaker
        image: quay.io/metallb/speaker:v0.14.8
";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `deploy/` with plain manifests and `chart/` with a Helm chart.
fn manifests(dir: &Path) -> Vec<PathBuf> {
    let deploy = dir.join("deploy");
    write(&deploy.join("multus.yaml"), &multus(""));
    write(&deploy.join("coredns.yaml"), COREDNS);
    write(&deploy.join("metrics-server.yaml"), METRICS_SERVER);
    write(&deploy.join("static-pod.yaml"), POD);
    write(&deploy.join("jobs.yaml"), JOBS);
    let chart = dir.join("chart");
    write(
        &chart.join("Chart.yaml"),
        "apiVersion: v2\nname: shop\nversion: 1.0.0\n",
    );
    write(
        &chart.join("values.yaml"),
        "image: registry.invalid/shop/report:1.2\n",
    );
    write(&chart.join("templates/workloads.yaml"), CHART_TEMPLATE);
    vec![deploy, chart]
}

fn changes(paths: &[PathBuf]) -> Vec<Change> {
    let (changes, notes) = planned(paths, Options::default());
    assert!(notes.is_empty(), "{notes:?}");
    changes
}

/// Notes, standard output and files, in that order, with `dir` as `[dir]`.
fn shown(e: &Emitted, dir: &Path) -> String {
    let mut s = String::new();
    for n in &e.notes {
        s.push_str(&format!("note: {}: {}\n", n.location, n.message));
    }
    if !e.stdout.is_empty() {
        s.push_str("=== stdout\n");
        s.push_str(&e.stdout);
    }
    for (path, content) in &e.files {
        s.push_str(&format!("=== {}\n{content}", path.display()));
    }
    s.replace(&dir.display().to_string(), "[dir]")
}

#[test]
fn kustomize_patches_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let changes = changes(&manifests(dir.path()));
    let emitted = emit::emit(Format::Kustomize, &changes, None);
    assert!(emitted.files.is_empty());
    insta::assert_snapshot!(shown(&emitted, dir.path()));
}

#[test]
fn kubectl_commands_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let changes = changes(&manifests(dir.path()));
    let emitted = emit::emit(Format::Kubectl, &changes, None);
    assert!(emitted.files.is_empty());
    insta::assert_snapshot!(shown(&emitted, dir.path()));
}

#[test]
fn json_patches_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let changes = changes(&manifests(dir.path()));
    let emitted = emit::emit(Format::JsonPatch, &changes, None);
    assert!(emitted.files.is_empty());
    insta::assert_snapshot!(shown(&emitted, dir.path()));
}

#[test]
fn kustomize_files_in_another_directory_list_the_manifests_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path());
    let changes = changes(&[dir.path().join("deploy")]);
    let out = dir.path().join("overlays/prod");
    let emitted = emit::emit(Format::Kustomize, &changes, Some(&out));
    assert!(emitted.stdout.is_empty());
    insta::assert_snapshot!(shown(&emitted, dir.path()));
    emitted.write_files().unwrap();
    for (path, content) in &emitted.files {
        assert_eq!(&std::fs::read_to_string(path).unwrap(), content);
    }
}

#[test]
fn kustomize_files_next_to_the_manifests_need_no_note() {
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path());
    let deploy = dir.path().join("deploy");
    let changes = changes(std::slice::from_ref(&deploy));
    let emitted = emit::emit(Format::Kustomize, &changes, Some(&deploy));
    assert!(emitted.notes.is_empty(), "{:?}", emitted.notes);
    let (path, kustomization) = emitted.files.last().unwrap();
    assert_eq!(path, &deploy.join("kustomization.yaml"));
    insta::assert_snapshot!(kustomization);
}

#[test]
fn an_existing_kustomization_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path());
    let deploy = dir.path().join("deploy");
    let kustomization = deploy.join("kustomization.yaml");
    let theirs = "resources:\n- multus.yaml\n- coredns.yaml\n";
    std::fs::write(&kustomization, theirs).unwrap();
    let changes = changes(std::slice::from_ref(&deploy));
    let emitted = emit::emit(Format::Kustomize, &changes, Some(&deploy));
    insta::assert_snapshot!(shown(&emitted, dir.path()));
    assert!(emitted.files.iter().all(|(p, _)| p != &kustomization));
    emitted.write_files().unwrap();
    assert_eq!(std::fs::read_to_string(&kustomization).unwrap(), theirs);
}

#[test]
fn the_same_workload_in_three_environments_gets_three_patch_files() {
    let dir = tempfile::tempdir().unwrap();
    let envs = ["dev", "staging", "prod"].map(|e| {
        let d = dir.path().join("env").join(e);
        write(&d.join("multus.yaml"), &multus(""));
        d
    });
    let changes = changes(&envs);
    assert_eq!(changes.len(), 3);
    let out = dir.path().join("patches");
    let names = |e: &Emitted| -> Vec<String> {
        e.files
            .iter()
            .map(|(p, _)| p.strip_prefix(&out).unwrap().display().to_string())
            .collect()
    };
    let kustomize = emit::emit(Format::Kustomize, &changes, Some(&out));
    assert_eq!(
        names(&kustomize),
        [
            "daemonset-kube-system-kube-multus-ds.priority-patch.yaml",
            "daemonset-kube-system-kube-multus-ds-2.priority-patch.yaml",
            "daemonset-kube-system-kube-multus-ds-3.priority-patch.yaml",
            "kustomization.yaml",
        ]
    );
    insta::assert_snapshot!("three_environments_kustomization", &kustomize.files[3].1);
    let json = emit::emit(Format::JsonPatch, &changes, Some(&out));
    assert_eq!(
        names(&json),
        [
            "daemonset-kube-system-kube-multus-ds.json-patch.json",
            "daemonset-kube-system-kube-multus-ds-2.json-patch.json",
            "daemonset-kube-system-kube-multus-ds-3.json-patch.json",
        ]
    );
}

#[test]
fn kubectl_script_and_json_patch_files_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let changes = changes(&manifests(dir.path()));
    let out = dir.path().join("out");
    let kubectl = emit::emit(Format::Kubectl, &changes, Some(&out));
    let json = emit::emit(Format::JsonPatch, &changes, Some(&out));
    assert!(kubectl.stdout.is_empty() && json.stdout.is_empty());
    insta::assert_snapshot!(format!(
        "{}{}",
        shown(&kubectl, dir.path()),
        shown(&json, dir.path())
    ));
    kubectl.write_files().unwrap();
    json.write_files().unwrap();
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written.len(), kubectl.files.len() + json.files.len());
    assert!(written.contains(&"priorityguard-patches.sh".to_string()));
}

#[test]
fn workloads_kubectl_cannot_patch_give_notes_and_no_script() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = dir.path().join("deploy");
    write(&deploy.join("static-pod.yaml"), POD);
    write(
        &deploy.join("jobs.yaml"),
        JOBS.split("---\n").next().unwrap(),
    );
    let changes = changes(&[deploy]);
    assert_eq!(changes.len(), 2);
    let out = dir.path().join("out");
    for target in [None, Some(out.as_path())] {
        let emitted = emit::emit(Format::Kubectl, &changes, target);
        assert!(emitted.stdout.is_empty() && emitted.files.is_empty());
        let notes: Vec<&str> = emitted.notes.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(
            notes,
            [
                "shop/Job/db-migrate: a Job's pod template is immutable; recreate the Job from a fixed manifest",
                "Pod/kube-multus: a bare pod's priority is fixed when it is created; recreate it from a fixed manifest",
            ]
        );
    }
}

#[test]
fn a_file_that_cannot_be_written_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let multus_file = dir.path().join("multus.yaml");
    write(&multus_file, &multus(""));
    let changes = changes(std::slice::from_ref(&multus_file));
    // The output "directory" is a file.
    let out = multus_file.clone();
    let err = emit::emit(Format::JsonPatch, &changes, Some(&out))
        .write_files()
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&out.display().to_string()),
        "{err}"
    );
}
