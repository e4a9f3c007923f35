//! `plan()` + `apply()` against a real kube-apiserver: the Multus DaemonSet gets
//! system-node-critical, the apiserver's Priority admission resolves it to 2000001000 for new
//! pods, and the re-audit is clean.

mod common;

use common::*;
use pg_catalog::{Catalog, Policy};
use pg_checks::{Config, audit};
use pg_cluster::{ApplyResult, PlannedPatch};
use pg_model::{CheckId, Finding, ObjectRef};
use pg_testenv::{Options, TestCluster};

fn audit_cluster(cluster: &TestCluster) -> Vec<Finding> {
    let loaded = pg_cluster::load(&opts_for(cluster.kubeconfig_path())).expect("load");
    audit(
        &loaded.objects,
        &Catalog::builtin(),
        &Config::new(false, &Policy::default()),
    )
    .findings
}

fn multus_ref() -> ObjectRef {
    ObjectRef {
        kind: "DaemonSet".to_string(),
        namespace: Some("kube-system".to_string()),
        name: "kube-multus-ds".to_string(),
    }
}

fn template_class(cluster: &TestCluster) -> String {
    cluster.kubectl_ok(
        &[
            "get",
            "daemonset",
            "-n",
            "kube-system",
            "kube-multus-ds",
            "-o",
            "jsonpath={.spec.template.spec.priorityClassName}",
        ],
        None,
    )
}

#[test]
fn cluster_fix_patches_multus_and_apiserver_resolves_priority() {
    pg_testenv::require_cluster!();
    let cluster = start(Options {
        controller_manager: true,
        ..Options::default()
    });
    cluster.create_fake_node("node-1", "4", "8Gi", "110");
    let multus = data("multus-daemonset.yml");
    cluster.kubectl_ok(&["apply", "-f", multus.to_str().unwrap()], None);
    // A bare pod running Multus: critical too, but it can only be recreated.
    let bare = pod_yaml("kube-system", "multus-by-hand", None).replace(
        "registry.invalid/pause:3.10",
        "ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot",
    );
    cluster.kubectl_ok(&["apply", "-f", "-"], Some(&bare));
    wait_for("the Multus DaemonSet pod", 90, || {
        pod_names(&cluster, "kube-system")
            .iter()
            .any(|p| p.starts_with("pod/kube-multus-ds-"))
    });

    let findings = audit_cluster(&cluster);
    let (patches, refused) = pg_cluster::plan(&findings);
    let multus_patch: &PlannedPatch = patches
        .iter()
        .find(|p| p.object == multus_ref())
        .unwrap_or_else(|| panic!("no patch for Multus: {patches:#?} from {findings:#?}"));
    assert_eq!(multus_patch.class, "system-node-critical");
    assert!(multus_patch.will_roll);
    let bare_refusal = refused
        .iter()
        .find(|(o, _)| o.kind == "Pod" && o.name == "multus-by-hand")
        .unwrap_or_else(|| panic!("bare pod not refused: {refused:#?}"));
    assert!(bare_refusal.1.contains("recreate"), "{}", bare_refusal.1);

    let opts = opts_for(cluster.kubeconfig_path());
    // Dry run only: the server accepts it, nothing changes.
    let dry = pg_cluster::apply(&opts, &patches, DRY_RUN).expect("dry run");
    assert!(dry.iter().all(|r| r.outcome.is_ok()), "{dry:#?}");
    assert_eq!(template_class(&cluster), "");

    // The real thing.
    let results = pg_cluster::apply(&opts, &patches, APPLY).expect("apply");
    assert_eq!(
        results,
        patches
            .iter()
            .map(|p| ApplyResult {
                object: p.object.clone(),
                outcome: Ok(())
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(template_class(&cluster), "system-node-critical");
    let managers = cluster.kubectl_ok(
        &[
            "get",
            "daemonset",
            "-n",
            "kube-system",
            "kube-multus-ds",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ],
        None,
    );
    assert!(
        managers
            .split_whitespace()
            .any(|m| m == pg_cluster::FIELD_MANAGER),
        "{managers}"
    );

    // A pod made from the patched template gets its priority from the apiserver.
    let ds = cluster.kubectl_json(&[
        "get",
        "daemonset",
        "-n",
        "kube-system",
        "kube-multus-ds",
        "-o",
        "json",
    ]);
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "multus-from-template", "namespace": "kube-system"},
        "spec": ds["spec"]["template"]["spec"],
    });
    cluster.kubectl_ok(&["create", "-f", "-"], Some(&pod.to_string()));
    let priority = cluster.kubectl_ok(
        &[
            "get",
            "pod",
            "-n",
            "kube-system",
            "multus-from-template",
            "-o",
            "jsonpath={.spec.priority}",
        ],
        None,
    );
    assert_eq!(priority, "2000001000");
    // The DaemonSet rolls: its controller replaces the old pod with one at 2000001000.
    wait_for("the DaemonSet to roll to the new template", 120, || {
        let out = cluster.kubectl_ok(
            &[
                "get",
                "pods",
                "-n",
                "kube-system",
                "-l",
                "name=multus",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}={.spec.priority}{\"\\n\"}{end}",
            ],
            None,
        );
        let ds_pods: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("kube-multus-ds-"))
            .collect();
        !ds_pods.is_empty() && ds_pods.iter().all(|l| l.ends_with("=2000001000"))
    });

    // Re-audit: only the bare pod is left (it must be recreated); Multus is clean.
    cluster.kubectl_ok(
        &[
            "delete",
            "pod",
            "-n",
            "kube-system",
            "multus-by-hand",
            "--wait=false",
        ],
        None,
    );
    let after = audit_cluster(&cluster);
    assert!(
        !after
            .iter()
            .any(|f| f.check == CheckId::CriticalWithoutPriority),
        "{after:#?}"
    );
    // Nothing left to plan, and applying the same patch again changes nothing.
    assert!(pg_cluster::plan(&after).0.is_empty(), "{after:#?}");
    let again = pg_cluster::apply(&opts, std::slice::from_ref(multus_patch), APPLY).unwrap();
    assert!(again[0].outcome.is_ok());
}

/// Per-object failures are one line each; the rest of the batch is still applied.
#[test]
fn cluster_fix_reports_missing_objects_and_immutable_jobs() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    cluster.kubectl_ok(&["create", "namespace", "apps"], None);
    let job = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: once
  namespace: apps
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: registry.invalid/job:1
"#;
    cluster.kubectl_ok(&["apply", "-f", "-"], Some(job));
    cluster.kubectl_ok(
        &[
            "create",
            "deployment",
            "web",
            "-n",
            "apps",
            "--image=registry.invalid/web:1",
        ],
        None,
    );
    let patch = |kind: &str, name: &str| PlannedPatch {
        object: ObjectRef {
            kind: kind.to_string(),
            namespace: Some("apps".to_string()),
            name: name.to_string(),
        },
        class: "system-cluster-critical".to_string(),
        json_merge_patch: serde_json::json!(
            {"spec":{"template":{"spec":{"priorityClassName":"system-cluster-critical"}}}}
        ),
        will_roll: true,
        managed_by: None,
    };
    // `plan` refuses Jobs; this checks the reason against the real API.
    let patches = [
        patch("Job", "once"),
        patch("Deployment", "gone"),
        patch("Deployment", "web"),
    ];
    let results = pg_cluster::apply(&opts_for(cluster.kubeconfig_path()), &patches, APPLY).unwrap();
    let job_err = results[0].outcome.as_ref().unwrap_err();
    assert!(
        job_err.starts_with("server-side dry run: rejected (422)"),
        "{job_err}"
    );
    assert!(job_err.contains("immutable"), "{job_err}");
    let gone_err = results[1].outcome.as_ref().unwrap_err();
    assert_eq!(
        gone_err,
        "server-side dry run: not found (404): Deployment apps/gone does not exist (any more)"
    );
    assert_eq!(results[2].outcome, Ok(()));
    for r in &results {
        if let Err(e) = &r.outcome {
            assert!(!e.contains('\n'), "{e}");
        }
    }
    let class = cluster.kubectl_ok(
        &[
            "get",
            "deployment",
            "-n",
            "apps",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.priorityClassName}",
        ],
        None,
    );
    assert_eq!(class, "system-cluster-critical");
}

/// Server-side apply: a class another field manager owns (here Helm's) is a conflict naming
/// it, in the dry run and for real, and nothing changes; `force_conflicts` takes the field,
/// and `priorityguard` then owns it (operation Apply).
#[test]
fn cluster_fix_names_the_manager_that_owns_the_class() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    cluster.kubectl_ok(&["create", "namespace", "apps"], None);
    let deployment = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: dns
  namespace: apps
spec:
  selector:
    matchLabels: {app: dns}
  template:
    metadata:
      labels: {app: dns}
    spec:
      priorityClassName: low
      containers:
      - name: c
        image: registry.invalid/dns:1
"#;
    cluster.kubectl_ok(
        &["create", "--field-manager=helm", "-f", "-"],
        Some(deployment),
    );
    let class = || {
        cluster.kubectl_ok(
            &[
                "get",
                "deployment",
                "-n",
                "apps",
                "dns",
                "-o",
                "jsonpath={.spec.template.spec.priorityClassName}",
            ],
            None,
        )
    };
    let patch = PlannedPatch {
        object: ObjectRef {
            kind: "Deployment".to_string(),
            namespace: Some("apps".to_string()),
            name: "dns".to_string(),
        },
        class: "system-cluster-critical".to_string(),
        json_merge_patch: serde_json::json!(
            {"spec":{"template":{"spec":{"priorityClassName":"system-cluster-critical"}}}}
        ),
        will_roll: true,
        managed_by: None,
    };
    let opts = opts_for(cluster.kubeconfig_path());
    let patches = std::slice::from_ref(&patch);

    for mode in [DRY_RUN, APPLY] {
        let results = pg_cluster::apply(&opts, patches, mode).unwrap();
        let err = results[0].outcome.as_ref().unwrap_err();
        assert!(
            err.starts_with("server-side dry run: conflict (409): \"helm\" (Helm) owns .spec.template.spec.priorityClassName"),
            "{err}"
        );
        assert!(err.contains("--force-conflicts"), "{err}");
        assert_eq!(class(), "low");
    }

    let force = pg_cluster::ApplyMode {
        force_conflicts: true,
        ..APPLY
    };
    let results = pg_cluster::apply(&opts, patches, force).unwrap();
    assert!(results[0].outcome.is_ok(), "{results:#?}");
    assert_eq!(class(), "system-cluster-critical");
    let owners = cluster.kubectl_json(&[
        "get",
        "deployment",
        "-n",
        "apps",
        "dns",
        "--show-managed-fields",
        "-o",
        "json",
    ]);
    let ours = owners["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manager"] == pg_cluster::FIELD_MANAGER)
        .unwrap_or_else(|| panic!("no priorityguard entry: {owners:#}"));
    assert_eq!(ours["operation"], "Apply");
    assert!(
        ours["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
            .get("f:priorityClassName")
            .is_some(),
        "{ours:#}"
    );
}
