//! Raw items -> the types of [`pg_model::snapshot`]. Quantities are parsed here; the API's
//! defaulting that a manifest has not been through yet (requests default to limits) is applied
//! here too.

use super::raw;
use pg_model::snapshot::{
    Class, Container, HostPort, LabelSelector, Labels, Node, NodeSelectorTerm, Owner, Pdb, Pod,
    PodAffinityTerm, Quantity, Requirement, ResourceList, SpreadConstraint, Taint, Toleration,
};

/// Parses a resource map; a bad quantity is reported (the API would have refused it) and
/// left out.
pub fn resources(
    map: Option<&raw::ResourceMap>,
    what: &str,
    problems: &mut Vec<String>,
) -> ResourceList {
    let mut out = ResourceList::new();
    for (name, text) in map.into_iter().flatten() {
        match Quantity::parse(&text.0) {
            Ok(q) => {
                out.insert(name.clone(), q);
            }
            Err(e) => problems.push(format!("{what}: {name}: {e}")),
        }
    }
    out
}

/// Requests default to limits, resource by resource (`SetDefaults_Pod`); objects read back
/// from the API already have them, manifests may not.
fn default_requests(requests: &mut ResourceList, limits: &ResourceList) {
    for (k, v) in limits {
        requests.entry(k.clone()).or_insert(*v);
    }
}

fn container(c: &raw::Container, what: &str, problems: &mut Vec<String>) -> Container {
    let name = c.name.clone().unwrap_or_default();
    let what = format!("{what} container {name}");
    let res = c.resources.as_ref();
    let limits = resources(res.and_then(|r| r.limits.as_ref()), &what, problems);
    let mut requests = resources(res.and_then(|r| r.requests.as_ref()), &what, problems);
    default_requests(&mut requests, &limits);
    let host_ports = c
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(HostPort {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|i| !i.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                protocol: p
                    .protocol
                    .clone()
                    .filter(|i| !i.is_empty())
                    .unwrap_or_else(|| "TCP".into()),
                port: p.host_port.filter(|p| *p > 0)?,
            })
        })
        .collect();
    Container {
        name,
        host_ports,
        image: c.image.clone().unwrap_or_default(),
        command: pg_model::CommandLine::new(
            [&c.command, &c.args]
                .into_iter()
                .flatten()
                .flatten()
                .map(String::as_str),
        ),
        requests,
        limits,
        sidecar: false,
    }
}

fn requirement(r: &raw::Requirement) -> Requirement {
    Requirement {
        key: r.key.clone().unwrap_or_default(),
        operator: r.operator.clone().unwrap_or_default(),
        values: r.values.clone().unwrap_or_default(),
    }
}

pub fn label_selector(s: &raw::LabelSelector) -> LabelSelector {
    LabelSelector {
        match_labels: s.match_labels.clone().unwrap_or_default(),
        match_expressions: s
            .match_expressions
            .iter()
            .flatten()
            .map(requirement)
            .collect(),
    }
}

/// A pod (or a controller's pod template, given its metadata and spec). `priority` is
/// resolved by the caller, which knows the classes.
pub fn pod(
    meta: &raw::Meta,
    spec: &raw::Spec,
    status: Option<&raw::Status>,
    problems: &mut Vec<String>,
) -> Pod {
    let namespace = meta.namespace.clone().unwrap_or_else(|| "default".into());
    let name = meta.name.clone().unwrap_or_default();
    let what = format!("pod {namespace}/{name}");
    let containers = spec
        .containers
        .iter()
        .flatten()
        .map(|c| container(c, &what, problems))
        .collect();
    let init_containers = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| Container {
            sidecar: c.restart_policy.as_deref() == Some("Always"),
            ..container(c, &what, problems)
        })
        .collect();
    let pod_res = spec.resources.as_ref();
    let pod_limits = resources(pod_res.and_then(|r| r.limits.as_ref()), &what, problems);
    let mut pod_requests = resources(pod_res.and_then(|r| r.requests.as_ref()), &what, problems);
    default_requests(&mut pod_requests, &pod_limits);
    let annotations = meta.annotations.as_ref();
    let owner = meta
        .owner_references
        .iter()
        .flatten()
        .max_by_key(|o| o.controller == Some(true))
        .and_then(|o| {
            Some(Owner {
                kind: o.kind.clone()?,
                name: o.name.clone()?,
            })
        });
    let affinity_terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|sel| {
            sel.node_selector_terms
                .iter()
                .flatten()
                .map(|t| NodeSelectorTerm {
                    match_expressions: t
                        .match_expressions
                        .iter()
                        .flatten()
                        .map(requirement)
                        .collect(),
                    match_fields: t.match_fields.iter().flatten().map(requirement).collect(),
                })
                .collect()
        });
    let anti_affinity = spec
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref())
        .into_iter()
        .flatten()
        .map(|t| {
            let ns_selector = t.namespace_selector.as_ref().map(label_selector);
            if ns_selector.as_ref().is_some_and(|s| !s.is_empty()) {
                problems.push(format!(
                    "{what}: a pod anti-affinity term selects namespaces by label, which a snapshot \
                     cannot evaluate; only its listed namespaces are counted"
                ));
            }
            PodAffinityTerm {
                selector: t.label_selector.as_ref().map(label_selector),
                namespaces: t.namespaces.clone().unwrap_or_default(),
                all_namespaces: ns_selector.is_some_and(|s| s.is_empty()),
                topology_key: t.topology_key.clone().unwrap_or_default(),
            }
        })
        .collect();
    let labels = meta.labels.clone().unwrap_or_default();
    let spread = spec
        .topology_spread_constraints
        .iter()
        .flatten()
        .filter(|c| c.when_unsatisfiable.as_deref() == Some("DoNotSchedule"))
        .map(|c| spread_constraint(c, &labels))
        .collect();
    Pod {
        namespace,
        name,
        anti_affinity,
        spread,
        labels,
        owner,
        static_or_mirror: annotations
            .is_some_and(|a| a.mirror || a.source.as_deref().is_some_and(|s| s != "api")),
        node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
        nominated_node_name: status
            .and_then(|s| s.nominated_node_name.clone())
            .filter(|n| !n.is_empty()),
        phase: status.and_then(|s| s.phase.clone()),
        terminating: meta.deletion_timestamp.is_some(),
        start_time: status.and_then(|s| s.start_time.clone()),
        priority_class_name: spec.priority_class_name.clone().filter(|n| !n.is_empty()),
        priority: 0,
        preemption_never: spec.preemption_policy.as_deref() == Some("Never"),
        qos_class: status.and_then(|s| s.qos_class.clone()),
        containers,
        init_containers,
        overhead: resources(spec.overhead.as_ref(), &what, problems),
        pod_requests,
        pod_limits,
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        affinity_terms,
        tolerations: spec
            .tolerations
            .iter()
            .flatten()
            .map(|t| Toleration {
                key: t.key.clone().unwrap_or_default(),
                operator: t.operator.clone().unwrap_or_default(),
                value: t.value.clone().unwrap_or_default(),
                effect: t.effect.clone().unwrap_or_default(),
            })
            .collect(),
        host_network: spec.host_network == Some(true),
        host_paths: spec
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.host_path.as_ref()?.path.clone())
            .collect(),
    }
}

/// A `DoNotSchedule` constraint as `filterTopologySpreadConstraints` builds it: defaults
/// filled in, and the owner's values of `matchLabelKeys` (those it has) ANDed into the
/// selector when there is one.
fn spread_constraint(c: &raw::TopologySpreadConstraint, owner_labels: &Labels) -> SpreadConstraint {
    let selector = c.label_selector.as_ref().map(|s| {
        let mut s = label_selector(s);
        for key in c.match_label_keys.iter().flatten() {
            if let Some(value) = owner_labels.get(key) {
                s.match_expressions.push(Requirement {
                    key: key.clone(),
                    operator: "In".into(),
                    values: vec![value.clone()],
                });
            }
        }
        s
    });
    SpreadConstraint {
        max_skew: c.max_skew.unwrap_or(1),
        topology_key: c.topology_key.clone().unwrap_or_default(),
        selector,
        min_domains: c.min_domains.unwrap_or(1),
        honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
        honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
    }
}

pub fn node(
    meta: &raw::Meta,
    spec: Option<&raw::Spec>,
    status: Option<&raw::Status>,
    problems: &mut Vec<String>,
) -> Node {
    let name = meta.name.clone().unwrap_or_default();
    let what = format!("node {name}");
    Node {
        labels: meta.labels.clone().unwrap_or_default(),
        taints: spec
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .map(|t| Taint {
                key: t.key.clone().unwrap_or_default(),
                value: t.value.clone().unwrap_or_default(),
                effect: t.effect.clone().unwrap_or_default(),
            })
            .collect(),
        unschedulable: spec.and_then(|s| s.unschedulable) == Some(true),
        allocatable: resources(status.and_then(|s| s.allocatable.as_ref()), &what, problems),
        capacity: resources(status.and_then(|s| s.capacity.as_ref()), &what, problems),
        name,
    }
}

pub fn pdb(meta: &raw::Meta, spec: Option<&raw::Spec>, status: Option<&raw::Status>) -> Pdb {
    let allowed = status.and_then(|s| s.disruptions_allowed);
    Pdb {
        namespace: meta.namespace.clone().unwrap_or_else(|| "default".into()),
        name: meta.name.clone().unwrap_or_default(),
        selector: spec.and_then(|s| s.selector.as_ref()).map(label_selector),
        min_available: spec.and_then(|s| s.min_available.clone()).map(|v| v.0),
        max_unavailable: spec.and_then(|s| s.max_unavailable.clone()).map(|v| v.0),
        disruptions_allowed: allowed.unwrap_or(0),
        from_status: allowed.is_some(),
        disrupted_pods: status
            .and_then(|s| s.disrupted_pods.as_ref())
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    }
}

pub fn class(item: &raw::Item) -> Option<Class> {
    Some(Class {
        name: item.metadata.as_ref()?.name.clone()?,
        value: item.value.unwrap_or(0),
        global_default: item.global_default == Some(true),
        preemption_never: item.preemption_policy.as_deref() == Some("Never"),
    })
}

/// `intstr.GetScaledValueFromIntOrPercent(v, total, roundUp=true)`.
pub fn scaled(v: &str, total: i64) -> Option<i64> {
    match v.strip_suffix('%') {
        Some(p) => {
            let p: i64 = p.trim().parse().ok()?;
            Some((p * total + 99) / 100)
        }
        None => v.trim().parse().ok(),
    }
}
