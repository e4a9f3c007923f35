//! `load()` against a real kube-apiserver answers the seed's question exactly, and the audit of
//! what it loaded names the upstream Multus DaemonSet.

mod common;

use common::*;
use pg_catalog::{Catalog, Policy};
use pg_checks::{Config, audit};
use pg_model::{CheckId, Finding, Object, WorkloadKind};
use pg_testenv::Options;
use std::collections::BTreeSet;

const MULTUS: (&str, &str) = ("kube-system", "kube-multus-ds");

fn no_priority_pods(findings: &[Finding]) -> BTreeSet<(String, String)> {
    let mut pods = BTreeSet::new();
    for f in findings.iter().filter(|f| f.check == CheckId::NoPriority) {
        for p in &f.pods {
            pods.insert((p.namespace.clone().unwrap_or_default(), p.name.clone()));
        }
        if f.object.kind == "Pod" {
            pods.insert((
                f.object.namespace.clone().unwrap_or_default(),
                f.object.name.clone(),
            ));
        }
    }
    pods
}

#[test]
fn cluster_load_matches_seed_jq_and_audit_flags_multus() {
    pg_testenv::require_cluster!();
    // The controller-manager and a fake node make the DaemonSet and Deployment controllers
    // create real pods, so the pod -> DaemonSet and pod -> ReplicaSet -> Deployment grouping
    // is exercised on objects the apiserver made.
    let cluster = start(Options {
        controller_manager: true,
        ..Options::default()
    });
    cluster.create_fake_node("node-1", "4", "8Gi", "110");
    let multus = data("multus-daemonset.yml");
    cluster.kubectl_ok(&["apply", "-f", multus.to_str().unwrap()], None);

    for ns in ["team-a", "team-b"] {
        cluster.kubectl_ok(&["create", "namespace", ns], None);
    }
    let class = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: team-high\nvalue: 1000\n";
    cluster.kubectl_ok(&["apply", "-f", "-"], Some(class));
    let pods = [
        ("team-a", "with-user-class", Some("team-high")),
        ("team-a", "no-class-a", None),
        (
            "team-b",
            "cluster-critical",
            Some("system-cluster-critical"),
        ),
        ("team-b", "no-class-b", None),
        ("default", "no-class-default", None),
    ];
    for (ns, name, class) in pods {
        cluster.kubectl_ok(&["apply", "-f", "-"], Some(&pod_yaml(ns, name, class)));
    }
    // A class that existed when its pod was admitted and was deleted afterwards.
    let doomed = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: doomed\nvalue: 500\n";
    cluster.kubectl_ok(&["apply", "-f", "-"], Some(doomed));
    cluster.kubectl_ok(
        &["apply", "-f", "-"],
        Some(&pod_yaml("team-b", "orphaned-class", Some("doomed"))),
    );
    cluster.kubectl_ok(&["delete", "priorityclass", "doomed"], None);
    // A pod naming a class that does not exist never gets in.
    let out = cluster.kubectl_with(
        cluster.kubeconfig_path(),
        &["apply", "-f", "-"],
        Some(&pod_yaml("team-b", "never-admitted", Some("no-such-class"))),
    );
    assert!(
        !out.status.success(),
        "the Priority admission plugin let it in"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no PriorityClass with name no-such-class was found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An ordinary Deployment without a class: pods -> ReplicaSet -> Deployment.
    cluster.kubectl_ok(
        &[
            "create",
            "deployment",
            "web",
            "-n",
            "team-a",
            "--image=registry.invalid/web:1",
            "--replicas=2",
        ],
        None,
    );
    wait_for("the Multus DaemonSet pod and 2 web pods", 90, || {
        let ks = pod_names(&cluster, "kube-system");
        let web = pod_names(&cluster, "team-a");
        ks.iter().any(|p| p.starts_with("pod/kube-multus-ds-"))
            && web.iter().filter(|p| p.starts_with("pod/web-")).count() == 2
    });

    let seed = seed_jq(&cluster);
    let loaded = pg_cluster::load(&opts_for(cluster.kubeconfig_path())).expect("load");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);

    // Same pod set as the seed pipeline.
    let ours = loaded_pods_without_class(&loaded.objects);
    assert_eq!(ours, seed);
    for expected in [
        ("team-a", "no-class-a"),
        ("team-b", "no-class-b"),
        ("default", "no-class-default"),
    ] {
        assert!(seed.contains(&(expected.0.into(), expected.1.into())));
    }
    assert!(
        seed.iter()
            .any(|(ns, n)| ns == "kube-system" && n.starts_with("kube-multus-ds-"))
    );
    assert!(
        !seed
            .iter()
            .any(|(_, n)| n == "with-user-class" || n == "orphaned-class")
    );

    // Stats and object identity.
    let pod_count = loaded
        .objects
        .iter()
        .filter(|o| matches!(o, Object::Workload(w) if w.kind == WorkloadKind::Pod))
        .count() as u64;
    assert_eq!(loaded.stats.pods, pod_count);
    // DaemonSet, Deployment and its ReplicaSet.
    assert_eq!(loaded.stats.workloads, 3, "{:?}", loaded.stats);
    assert!(loaded.stats.priority_classes >= 3, "{:?}", loaded.stats);
    assert_eq!(loaded.stats.files, 0);
    for o in &loaded.objects {
        if let Object::Workload(w) = o {
            assert!(w.location.is_none() && w.from_api, "{w:?}");
        }
    }

    let result = audit(
        &loaded.objects,
        &Catalog::builtin(),
        &Config::new(true, &Policy::default()),
    );
    let multus_finding = result
        .findings
        .iter()
        .find(|f| {
            f.check == CheckId::CriticalWithoutPriority
                && f.object.kind == "DaemonSet"
                && f.object.namespace.as_deref() == Some(MULTUS.0)
                && f.object.name == MULTUS.1
        })
        .unwrap_or_else(|| {
            panic!(
                "no critical-without-priority for Multus: {:#?}",
                result.findings
            )
        });
    assert_eq!(
        multus_finding.recommended_class.as_deref(),
        Some("system-node-critical")
    );
    assert!(!multus_finding.object_inferred);
    assert!(
        multus_finding
            .pods
            .iter()
            .any(|p| p.name.starts_with("kube-multus-ds-")),
        "the controller's pod is folded into the DaemonSet finding: {multus_finding:#?}"
    );
    // The web pods are grouped under the Deployment, not their ReplicaSet.
    let web = result
        .findings
        .iter()
        .find(|f| f.check == CheckId::NoPriority && f.object.name == "web")
        .expect("no-priority for the web Deployment");
    assert_eq!(web.object.kind, "Deployment");
    assert_eq!(web.pods.len(), 2);
    // And the grouped no-priority findings cover exactly the seed's pods.
    assert_eq!(no_priority_pods(&result.findings), seed);
    // The pod whose class was deleted is flagged against the cluster's real classes.
    assert!(
        result
            .findings
            .iter()
            .any(|f| f.check == CheckId::UnknownPriorityClass && f.object.name == "orphaned-class"),
        "{:#?}",
        result.findings
    );
    assert!(
        !result.findings.iter().any(|f| f.check == CheckId::UnknownPriorityClass
            && f.object.name == "with-user-class")
    );

    // Keeping only the label keys the catalog matches on changes no finding.
    let keys = Catalog::builtin().label_keys();
    let slim = pg_cluster::load_keeping_labels(&opts_for(cluster.kubeconfig_path()), Some(&keys))
        .expect("load keeping labels");
    let slim_result = audit(
        &slim.objects,
        &Catalog::builtin(),
        &Config::new(true, &Policy::default()),
    );
    assert_eq!(slim_result.findings, result.findings);
}

#[test]
fn cluster_load_pages_through_more_than_one_page() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    cluster.kubectl_ok(&["create", "namespace", "many"], None);
    cluster.kubectl_ok(&["create", "namespace", "few"], None);
    // 650 pods: two pages of 500 at the API's limit.
    const TOTAL: usize = 650;
    for chunk in 0..5 {
        let items: Vec<serde_json::Value> = (0..TOTAL / 5)
            .map(|i| {
                let n = chunk * (TOTAL / 5) + i;
                serde_json::json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("p-{n:04}"), "namespace": "many"},
                    "spec": {"containers": [{"name": "c", "image": "registry.invalid/pause:3.10"}]}
                })
            })
            .collect();
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
        cluster.kubectl_ok(&["create", "-f", "-"], Some(&list.to_string()));
    }
    cluster.kubectl_ok(&["apply", "-f", "-"], Some(&pod_yaml("few", "one", None)));

    // The server really splits this into pages at our page size...
    let first_page = cluster.kubectl_json(&[
        "get",
        "--raw",
        &format!("/api/v1/pods?limit={}", pg_cluster::PAGE_SIZE),
    ]);
    assert_eq!(first_page["items"].as_array().unwrap().len(), 500);
    assert!(
        first_page["metadata"]["continue"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    // ...and load follows the continue token to the end.
    let loaded = pg_cluster::load(&opts_for(cluster.kubeconfig_path())).expect("load");
    assert_eq!(loaded.stats.pods, TOTAL as u64 + 1);
    let names: BTreeSet<String> = loaded
        .objects
        .iter()
        .filter_map(|o| match o {
            Object::Workload(w) if w.namespace.as_deref() == Some("many") => Some(w.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names.len(), TOTAL, "every pod once, none twice");
    assert_eq!(
        loaded_pods_without_class(&loaded.objects),
        seed_jq(&cluster)
    );

    // -n limits pods and workloads to one namespace; classes are still all listed.
    let mut opts = opts_for(cluster.kubeconfig_path());
    opts.namespace = Some("few".to_string());
    opts.progress = true; // hidden anyway: stderr is not a terminal under cargo test
    let few = pg_cluster::load(&opts).expect("load -n few");
    assert_eq!(few.stats.pods, 1);
    assert!(few.stats.priority_classes >= 2);
}
