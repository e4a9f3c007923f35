//! The cluster after `priorityguard fix`: every pod the catalog recognises as a critical
//! component gets its recommended class (when that is stronger than what it has), with the
//! priority and preemption policy the Priority admission plugin would give it on re-creation.

use pg_catalog::Catalog;
use pg_model::snapshot::{Pod, Snapshot};
use pg_model::{ClassRef, ComponentMatch, OwnerRef, PodSpecFacts, Workload, WorkloadKind};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Fix {
    pub pod: String,
    /// Catalog id, e.g. `multus`.
    pub component: String,
    pub component_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_class: Option<String>,
    pub to_class: String,
    pub from_priority: i64,
    pub to_priority: i64,
}

/// The pod as the catalog sees workloads.
fn workload(pod: &Pod) -> Workload {
    Workload {
        kind: WorkloadKind::Pod,
        name: pod.name.clone(),
        namespace: Some(pod.namespace.clone()),
        labels: Vec::new(),
        owner: pod.owner.as_ref().map(|o| OwnerRef {
            kind: o.kind.clone(),
            name: o.name.clone(),
        }),
        from_api: true,
        mirror: pod.static_or_mirror,
        pod: std::sync::Arc::new(PodSpecFacts {
            priority_class: match &pod.priority_class_name {
                Some(name) => ClassRef::Literal { name: name.clone() },
                None => ClassRef::Missing,
            },
            priority: Some(pod.priority),
            preemption_never: pod.preemption_never,
            host_network: pod.host_network,
            containers: pod
                .init_containers
                .iter()
                .map(|c| (c, true))
                .chain(pod.containers.iter().map(|c| (c, false)))
                .map(|(c, init)| pg_model::Container {
                    name: c.name.clone(),
                    image: c.image.clone(),
                    init,
                    image_from: None,
                    command: c.command.clone(),
                })
                .collect(),
            host_paths: pod.host_paths.clone(),
            structure: None,
            labels: pod
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            positions: None,
        }),
        location: None,
        managed_by: None,
    }
}

/// The critical component `pod` is, if the catalog knows it.
pub fn component(catalog: &Catalog, pod: &Pod) -> Option<ComponentMatch> {
    catalog.classify(&workload(pod))
}

/// Gives `pod` its recommended class if that raises its priority; returns what changed.
pub fn fix_pod(snapshot: &Snapshot, catalog: &Catalog, pod: &mut Pod) -> Option<Fix> {
    let component = component(catalog, pod)?;
    let class = snapshot.class(&component.recommended_class)?;
    if class.value <= pod.priority {
        return None;
    }
    let fix = Fix {
        pod: pod.key(),
        component: component.id,
        component_name: component.name,
        from_class: pod.priority_class_name.clone(),
        to_class: class.name.clone(),
        from_priority: pod.priority,
        to_priority: class.value,
    };
    pod.priority_class_name = Some(class.name.clone());
    pod.priority = class.value;
    pod.preemption_never = class.preemption_never;
    Some(fix)
}

/// `snapshot` with every fix applied, and the list of fixes.
pub fn apply(snapshot: &Snapshot, catalog: &Catalog) -> (Snapshot, Vec<Fix>) {
    let mut fixed = snapshot.clone();
    let mut fixes = Vec::new();
    for i in 0..fixed.pods.len() {
        let mut pod = fixed.pods[i].clone();
        if let Some(f) = fix_pod(snapshot, catalog, &mut pod) {
            fixes.push(f);
            fixed.pods[i] = pod;
        }
    }
    (fixed, fixes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_model::snapshot::Container;

    /// A Longhorn pod as deploy/longhorn.yaml runs it: the same image is the node agent or a
    /// one-off deployer, depending on the command line the snapshot carries.
    fn longhorn(subcommand: &str) -> Pod {
        Pod {
            name: "lh".into(),
            containers: vec![Container {
                name: "c".into(),
                image: "longhornio/longhorn-manager:v1.9.1".into(),
                command: pg_model::CommandLine::new(["longhorn-manager", "-d", subcommand]),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// A pod of upstream Multus's thick-plugin DaemonSet (deployments/multus-daemonset-thick.yml).
    fn multus(name: &str, class: Option<&str>, priority: i64) -> Pod {
        Pod {
            namespace: "kube-system".into(),
            name: name.into(),
            owner: Some(pg_model::snapshot::Owner {
                kind: "DaemonSet".into(),
                name: "kube-multus-ds".into(),
            }),
            host_network: true,
            priority_class_name: class.map(str::to_string),
            priority,
            containers: vec![Container {
                name: "kube-multus".into(),
                image: "ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot-thick".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn critical_components_get_their_class_when_it_raises_their_priority() {
        let user = Pod {
            namespace: "shop".into(),
            name: "web".into(),
            containers: vec![Container {
                name: "web".into(),
                image: "nginx:1.27".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let snapshot = Snapshot::from_parts(
            vec![],
            vec![
                multus("kube-multus-ds-a", None, 0),
                multus(
                    "kube-multus-ds-b",
                    Some("system-node-critical"),
                    2_000_001_000,
                ),
                user,
            ],
            vec![],
        );
        let (fixed, fixes) = apply(&snapshot, &Catalog::builtin());
        let changed: Vec<_> = fixes
            .iter()
            .map(|f| {
                (
                    f.pod.as_str(),
                    f.component.as_str(),
                    f.from_class.as_deref(),
                    f.to_class.as_str(),
                    f.from_priority,
                    f.to_priority,
                )
            })
            .collect();
        // Only the pod without a class changes: the other already has that priority, and the
        // web server is no component.
        assert_eq!(
            changed,
            [(
                "kube-system/kube-multus-ds-a",
                "multus",
                None,
                "system-node-critical",
                0,
                2_000_001_000
            )]
        );
        let a = &fixed.pods[0];
        assert_eq!(
            a.priority_class_name.as_deref(),
            Some("system-node-critical")
        );
        assert_eq!(a.priority, 2_000_001_000);
        assert_eq!(
            fixed.pods[1..],
            snapshot.pods[1..],
            "the others are unchanged"
        );
    }

    #[test]
    fn components_sharing_an_image_are_told_apart_by_command_line() {
        let catalog = Catalog::builtin();
        let daemon = component(&catalog, &longhorn("daemon")).map(|m| m.id);
        assert_eq!(daemon.as_deref(), Some("longhorn-manager"));
        assert_eq!(component(&catalog, &longhorn("deploy-driver")), None);
    }
}
