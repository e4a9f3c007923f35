//! The pod of `--pending POD.yaml`: a Pod manifest, or a workload whose pod template is used
//! (a DaemonSet's pod is pinned to `--node` the way the DaemonSet controller pins it).

use super::SnapshotError;
use super::convert;
use super::raw::{Item, Meta, OwnerReference};
use pg_model::snapshot::{NodeSelectorTerm, Pod, Requirement, Snapshot, Toleration};
use std::ops::ControlFlow;

const TEMPLATE_KINDS: [&str; 6] = [
    "Deployment",
    "DaemonSet",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
];

/// Reads the pending pod from the first document of `text` that is a Pod or a workload with a
/// pod template (so a whole release manifest, CRDs and RBAC first, works), with its priority
/// resolved against the snapshot's classes as the Priority admission plugin would.
pub fn parse(
    text: &str,
    source: &str,
    snapshot: &Snapshot,
    node: Option<&str>,
) -> Result<Pod, SnapshotError> {
    let invalid = |message: String| SnapshotError::Parse {
        input: source.to_string(),
        message,
    };
    let mut kinds = Vec::new();
    let mut found = None;
    pg_yaml::read_each(text, |item: Item| {
        let kind = item.kind.clone().unwrap_or_default();
        if kind == "Pod" || TEMPLATE_KINDS.contains(&kind.as_str()) {
            found = Some(item);
            return ControlFlow::Break(());
        }
        kinds.push(kind);
        ControlFlow::Continue(())
    })
    .map_err(|e| super::yaml_error(source, e))?;
    let item = found.ok_or_else(|| {
        invalid(format!(
            "expected a Pod or a workload with a pod template, found {}",
            if kinds.is_empty() {
                "nothing".to_string()
            } else {
                format!("kind {}", kinds.join(", "))
            }
        ))
    })?;
    let kind = item.kind.clone().unwrap_or_default();
    let meta = item.metadata.unwrap_or_default();
    let spec = item.spec.unwrap_or_default();
    let mut problems = Vec::new();
    let mut spec_priority = spec.priority;
    let mut pod = if kind == "Pod" {
        convert::pod(&meta, &spec, None, &mut problems)
    } else {
        let template = spec
            .template
            .ok_or_else(|| invalid(format!("{kind} has no spec.template")))?;
        let tmeta = template.metadata.unwrap_or_default();
        let tspec = template.spec.unwrap_or_default();
        spec_priority = tspec.priority;
        let name = meta.name.clone().unwrap_or_else(|| "pending".into());
        let pod_meta = Meta {
            name: Some(format!("{name}-pending")),
            namespace: meta.namespace.clone(),
            labels: tmeta.labels,
            owner_references: Some(vec![OwnerReference {
                kind: Some(kind.clone()),
                name: Some(name),
                controller: Some(true),
            }]),
            ..Meta::default()
        };
        let mut pod = convert::pod(&pod_meta, &tspec, None, &mut problems);
        if kind == "DaemonSet" {
            let node = node.ok_or_else(|| {
                invalid(
                    "a DaemonSet runs one pod per node: pass --node to place the pod for that node"
                        .into(),
                )
            })?;
            pin_like_daemonset_controller(&mut pod, node);
        }
        pod
    };
    if let Some(p) = problems.first() {
        return Err(invalid(p.clone()));
    }
    pod.node_name = None;
    snapshot
        .resolve_priority(&mut pod, spec_priority)
        .map_err(invalid)?;
    Ok(pod)
}

/// `ReplaceDaemonSetPodNodeNameNodeAffinity` and the tolerations the DaemonSet controller
/// adds, so the pod is considered for exactly `node`, cordoned or under pressure.
fn pin_like_daemonset_controller(pod: &mut Pod, node: &str) {
    let field = Requirement {
        key: "metadata.name".into(),
        operator: "In".into(),
        values: vec![node.to_string()],
    };
    match &mut pod.affinity_terms {
        Some(terms) if !terms.is_empty() => {
            for t in terms.iter_mut() {
                t.match_fields = vec![field.clone()];
            }
        }
        _ => {
            pod.affinity_terms = Some(vec![NodeSelectorTerm {
                match_expressions: Vec::new(),
                match_fields: vec![field],
            }]);
        }
    }
    let mut tolerate = |key: &str, effect: &str| {
        pod.tolerations.push(Toleration {
            key: key.into(),
            operator: "Exists".into(),
            value: String::new(),
            effect: effect.into(),
        });
    };
    tolerate("node.kubernetes.io/not-ready", "NoExecute");
    tolerate("node.kubernetes.io/unreachable", "NoExecute");
    tolerate("node.kubernetes.io/disk-pressure", "NoSchedule");
    tolerate("node.kubernetes.io/memory-pressure", "NoSchedule");
    tolerate("node.kubernetes.io/pid-pressure", "NoSchedule");
    tolerate("node.kubernetes.io/unschedulable", "NoSchedule");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemonset_pod_is_pinned_to_the_node() {
        let ds = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: kube-multus-ds, namespace: kube-system}\nspec:\n  template:\n    metadata: {labels: {app: multus}}\n    spec:\n      containers:\n      - name: kube-multus\n        image: ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot\n        resources: {requests: {cpu: 100m, memory: 50Mi}}\n";
        let s = Snapshot::default();
        assert!(parse(ds, "ds.yaml", &s, None).is_err());
        let pod = parse(ds, "ds.yaml", &s, Some("node-a")).unwrap();
        assert_eq!(pod.key(), "kube-system/kube-multus-ds-pending");
        assert_eq!(pod.priority, 0);
        let terms = pod.affinity_terms.unwrap();
        assert!(terms[0].matches("node-a", &Default::default()));
        assert!(!terms[0].matches("node-b", &Default::default()));
        assert_eq!(pod.owner.unwrap().kind, "DaemonSet");
    }

    #[test]
    fn classes_resolve_and_unknown_ones_are_refused() {
        let mut s = Snapshot::default();
        s.classes = Snapshot::from_parts(vec![], vec![], vec![]).classes;
        let pod = "kind: Pod\nmetadata: {name: p}\nspec:\n  priorityClassName: system-node-critical\n  containers: [{name: c}]\n";
        assert_eq!(parse(pod, "p", &s, None).unwrap().priority, 2_000_001_000);
        let bad = pod.replace("system-node-critical", "gold");
        let err = parse(&bad, "p.yaml", &s, None).unwrap_err().to_string();
        assert!(err.contains("PriorityClass gold"), "{err}");
        assert!(parse("kind: Service\n", "s", &s, None).is_err());
    }

    #[test]
    fn the_pod_of_a_list_is_found_and_bad_yaml_names_its_line() {
        // `kubectl get pods -o yaml` writes a List; `hostNetwork: yes` is true as kubectl reads it.
        let list = "apiVersion: v1\nkind: List\nitems:\n- kind: ConfigMap\n  metadata: {name: c}\n- kind: Pod\n  metadata: {name: p}\n  spec:\n    hostNetwork: yes\n    containers: [{name: c}]\n";
        let pod = parse(list, "l.yaml", &Snapshot::default(), None).unwrap();
        assert_eq!(pod.key(), "default/p");
        assert!(pod.host_network);
        let err = parse(
            "kind: Pod\nspec:\n  priority: high\n",
            "p.yaml",
            &Snapshot::default(),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("p.yaml:3: "), "{err}");
    }
}
