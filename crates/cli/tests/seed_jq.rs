//! The seed check reproduced: on a `kubectl get pods -A -o json` list, `audit --all -o json`
//! reports exactly the pods that the classic jq one-liner prints (the real jq is run).

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn pod(
    ns: &str,
    name: &str,
    owner: Option<(&str, &str)>,
    class: Option<(&str, i64)>,
    image: &str,
) -> Value {
    let mut p = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": format!("uid-{ns}-{name}"),
            "creationTimestamp": "2026-09-01T10:00:00Z",
            "labels": {"app": name.split('-').next().unwrap()},
            "resourceVersion": "12345"
        },
        "spec": {
            "containers": [{
                "name": "main",
                "image": image,
                "resources": {"requests": {"cpu": "100m", "memory": "90Mi"}},
                "terminationMessagePath": "/dev/termination-log"
            }],
            "dnsPolicy": "ClusterFirst",
            "enableServiceLinks": true,
            "nodeName": "node-a",
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": class.map_or(0, |c| c.1),
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}]
        },
        "status": {"phase": "Running", "qosClass": "Burstable", "podIP": "10.0.0.7"}
    });
    if let Some((kind, owner_name)) = owner {
        p["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "apps/v1", "kind": kind, "name": owner_name,
            "controller": true, "blockOwnerDeletion": true, "uid": "owner-uid"
        }]);
        if kind == "ReplicaSet" {
            let hash = owner_name.rsplit('-').next().unwrap();
            p["metadata"]["labels"]["pod-template-hash"] = json!(hash);
        }
        if kind == "Node" {
            p["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "abc", "kubernetes.io/config.source": "file"});
        }
    }
    if let Some((c, _)) = class {
        p["spec"]["priorityClassName"] = json!(c);
    }
    p
}

/// A realistic mix: DaemonSet, ReplicaSet, StatefulSet and Job pods, bare pods, static mirror
/// pods, built-in, user-defined and deleted classes.
fn pod_list() -> Value {
    let mut items = Vec::new();
    for node in ["a", "b", "c"] {
        items.push(pod(
            "kube-system",
            &format!("kube-multus-ds-{node}x1"),
            Some(("DaemonSet", "kube-multus-ds")),
            None,
            "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0",
        ));
        items.push(pod(
            "kube-system",
            &format!("kube-proxy-{node}q2"),
            Some(("DaemonSet", "kube-proxy")),
            Some(("system-node-critical", 2000001000)),
            "registry.k8s.io/kube-proxy:v1.34.1",
        ));
        items.push(pod(
            "metallb-system",
            &format!("speaker-{node}z9"),
            Some(("DaemonSet", "speaker")),
            None,
            "quay.io/metallb/speaker:v0.14.8",
        ));
        items.push(pod(
            "kube-system",
            &format!("kube-apiserver-node-{node}"),
            Some(("Node", &format!("node-{node}"))),
            Some(("system-node-critical", 2000001000)),
            "registry.k8s.io/kube-apiserver:v1.34.1",
        ));
        items.push(pod(
            "kube-system",
            &format!("etcd-node-{node}"),
            Some(("Node", &format!("node-{node}"))),
            None,
            "registry.k8s.io/etcd:3.5.15-0",
        ));
    }
    for i in 0..2 {
        items.push(pod(
            "kube-system",
            &format!("coredns-668d6bf9bc-k{i}"),
            Some(("ReplicaSet", "coredns-668d6bf9bc")),
            Some(("system-cluster-critical", 2000000000)),
            "registry.k8s.io/coredns/coredns:v1.11.3",
        ));
        items.push(pod(
            "shop",
            &format!("web-7d9f8b6c5-p{i}"),
            Some(("ReplicaSet", "web-7d9f8b6c5")),
            None,
            "example.com/shop/web:1.2",
        ));
        items.push(pod(
            "shop",
            &format!("api-5c6d7e8f9-r{i}"),
            Some(("ReplicaSet", "api-5c6d7e8f9")),
            Some(("high-priority", 1000000)),
            "example.com/shop/api:3.0",
        ));
        items.push(pod(
            "data",
            &format!("postgres-{i}"),
            Some(("StatefulSet", "postgres")),
            None,
            "postgres:16",
        ));
        items.push(pod(
            "batch",
            &format!("report-29100-{i}abcd"),
            Some(("Job", "report-29100")),
            Some(("batch-low", 100)),
            "example.com/report:1",
        ));
        items.push(pod(
            "batch",
            &format!("cleanup-{i}xyz"),
            Some(("Job", "cleanup")),
            None,
            "busybox:1.36",
        ));
    }
    items.push(pod("default", "debug-shell", None, None, "busybox:1.36"));
    items.push(pod(
        "default",
        "old-pod",
        None,
        Some(("deleted-class", 5000)),
        "nginx:1.27",
    ));
    items.push(pod(
        "monitoring",
        "node-exporter-x",
        Some(("DaemonSet", "node-exporter")),
        None,
        "quay.io/prometheus/node-exporter:v1.8.2",
    ));
    json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}})
}

fn jq_set(file: &std::path::Path) -> BTreeSet<String> {
    shell_lines(&format!(
        "jq -r {} '{}'",
        shell_quote(SEED_JQ),
        file.display()
    ))
}

#[test]
fn audit_all_reports_exactly_the_seed_jq_pods() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pods.json");
    // kubectl prints 4-space indented JSON.
    let mut text = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut text, fmt);
    serde::Serialize::serialize(&pod_list(), &mut ser).unwrap();
    std::fs::write(&file, &text).unwrap();

    let want = jq_set(&file);
    assert_eq!(
        want.len(),
        3 + 3 + 3 + 2 + 2 + 2 + 1 + 1,
        "fixture sanity: {want:?}"
    );

    let out = priorityguard(&["audit", "--all", "-o", "json", &file.display().to_string()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(no_priority_pods(&report), want);

    // The same list on stdin (streamed) gives the same answer.
    let out = priorityguard_stdin(&["audit", "--all", "-o", "json", "-"], Some(&text));
    assert_eq!(no_priority_pods(&json(&out)), want);

    // Grouped by owner: Multus pods fold into their DaemonSet, web pods into the Deployment
    // named from the pod-template-hash.
    let keys = finding_keys(&report);
    assert!(
        keys.contains(&(
            "critical-without-priority".into(),
            "error".into(),
            "kube-system/DaemonSet/kube-multus-ds".into()
        )),
        "{keys:?}"
    );
    assert!(
        keys.contains(&(
            "no-priority".into(),
            "info".into(),
            "shop/Deployment/web".into()
        )),
        "{keys:?}"
    );
    assert!(
        keys.contains(&(
            "unknown-priority-class".into(),
            "error".into(),
            "default/Pod/old-pod".into()
        )),
        "{keys:?}"
    );
    let multus = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["check"] == "critical-without-priority" && f["object"]["name"] == "kube-multus-ds"
        })
        .unwrap();
    assert_eq!(multus["pods"].as_array().unwrap().len(), 3);
    assert_eq!(multus["object_inferred"], true);
    // Static pods are critical to the kubelet whatever their class: no critical finding.
    assert!(
        !keys
            .iter()
            .any(|k| k.0 == "critical-without-priority" && k.2.contains("etcd"))
    );
    // Pods from the API carry spec.priority; that is not "set directly".
    assert!(!keys.iter().any(|k| k.0 == "priority-set-directly"));
}

#[test]
fn empty_class_in_a_file_counts_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ds.yaml");
    std::fs::write(
        &file,
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: kube-proxy\n  namespace: kube-system\nspec:\n  template:\n    spec:\n      priorityClassName: \"\"\n      containers:\n      - name: kube-proxy\n        image: registry.k8s.io/kube-proxy:v1.34.1\n",
    )
    .unwrap();
    let out = priorityguard(&["audit", "--all", "-o", "json", &file.display().to_string()]);
    let keys = finding_keys(&json(&out));
    assert!(
        keys.iter().any(|k| k.0 == "critical-without-priority"),
        "{keys:?}"
    );
    assert!(keys.iter().any(|k| k.0 == "no-priority"), "{keys:?}");
}
