//! Findings about pods are folded into the workload at the top of their owner chain: the
//! owner in the input when it is there (from the same file first), else the one the owner
//! references name. Real `kubectl get -o yaml` dumps under `grouping/`.

use pg_catalog::{Catalog, Policy};
use pg_checks::{Audit, Config, audit};
use pg_model::{CheckId, Finding, Object, WorkloadKind};
use pg_sources::{Input, Options, load};
use std::path::Path;

fn audit_dir(dir: &str) -> (Vec<Object>, Audit) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/grouping")
        .join(dir);
    let loaded = load(&[Input::Path(path)], &Options::default());
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let result = audit(
        &loaded.objects,
        &Catalog::builtin(),
        &Config::new(false, &Policy::default()),
    );
    (loaded.objects, result)
}

fn unprotected(result: &Audit) -> Vec<&Finding> {
    result
        .findings
        .iter()
        .filter(|f| f.check == CheckId::CriticalWithoutPriority)
        .collect()
}

fn pod_names(f: &Finding) -> Vec<&str> {
    f.pods.iter().map(|p| p.name.as_str()).collect()
}

/// A pod list alone: CoreDNS's pods of two ReplicaSets are one finding about Deployment
/// `coredns`, named from `pod-template-hash` and marked inferred; kube-proxy's lone pod still
/// shows its DaemonSet among the critical components, protected by its class.
#[test]
fn pods_alone_are_folded_into_the_owners_their_references_name() {
    let (_, result) = audit_dir("pods-only.yaml");
    let found = unprotected(&result);
    assert_eq!(found.len(), 1, "{found:#?}");
    let coredns = found[0];
    assert_eq!(coredns.object.to_string(), "kube-system/Deployment/coredns");
    assert!(coredns.object_inferred, "{coredns:#?}");
    assert_eq!(
        pod_names(coredns),
        ["coredns-5d78c9869d-8xq2w", "coredns-668d6bf9bc-4k7mz"]
    );

    let components: Vec<(String, &str, bool)> = result
        .components
        .iter()
        .map(|c| (c.object.to_string(), c.component.id.as_str(), c.protected))
        .collect();
    assert_eq!(
        components,
        [
            (
                "kube-system/Deployment/coredns".to_string(),
                "coredns",
                false
            ),
            (
                "kube-system/DaemonSet/kube-proxy".to_string(),
                "kube-proxy",
                true
            ),
        ]
    );
}

/// Two clusters' dumps, each with CoreDNS's Deployment, ReplicaSet and pod (pods listed first,
/// as kubectl lists them): one finding per file, about the Deployment of that file, at that
/// Deployment's template, listing only that file's pod.
#[test]
fn the_same_deployment_in_two_files_is_two_findings_each_with_its_own_pods() {
    let (objects, result) = audit_dir("clusters");
    let found = unprotected(&result);
    assert_eq!(found.len(), 2, "{found:#?}");
    for f in found {
        assert_eq!(f.object.to_string(), "kube-system/Deployment/coredns");
        assert!(!f.object_inferred, "{f:#?}");
        let file = &f.location.as_ref().unwrap().file;
        let deployment = objects
            .iter()
            .find_map(|o| match o {
                Object::Workload(w)
                    if w.kind == WorkloadKind::Deployment
                        && w.location.as_ref().is_some_and(|l| &l.file == file) =>
                {
                    Some(w)
                }
                _ => None,
            })
            .unwrap();
        // Where the Deployment's class goes (its template's spec), not the pod's spec.
        assert_eq!(
            f.location.as_ref(),
            deployment.pod.spec_location(),
            "{f:#?}"
        );
        assert_eq!(f.pods.len(), 1, "the pod only, not the ReplicaSet: {f:#?}");
        let pod = &f.pods[0];
        assert!(pod.name.starts_with("coredns-"), "{pod:?}");
        assert_eq!(&pod.location.as_ref().unwrap().file, file, "{f:#?}");
    }
}

/// The descheduler's CronJob, its Job and the Job's pod: found by following the owners
/// through the input, the finding is about the CronJob, not about the Job the pod names.
#[test]
fn a_pod_of_a_cronjob_is_folded_into_the_cronjob_through_its_job() {
    let (_, result) = audit_dir("cronjob.yaml");
    let found = unprotected(&result);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = found[0];
    assert_eq!(
        f.object.to_string(),
        "kube-system/CronJob/descheduler-cronjob"
    );
    assert!(!f.object_inferred, "{f:#?}");
    assert_eq!(pod_names(f), ["descheduler-29412360-x7k2q"]);
}
