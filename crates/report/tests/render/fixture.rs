//! A realistic report: one of everything the renderers must handle.

use pg_model::{
    CheckId, CheckInfo, ClassRef, ClusterRef, ComponentMatch, ComponentStatus, Deployer, Finding,
    InputProblem, Location, ManagedBy, ObjectRef, PodRef, Report, Role, Severity, Stats,
};
use pg_report::{Format, RenderOptions, render};

const MULTUS_FILE: &str = "roles/network_plugin/multus/templates/multus-daemonset.yml.j2";

fn location(file: &str, line: u32, column: u32) -> Option<Location> {
    Some(Location {
        file: file.into(),
        line,
        column,
    })
}

fn object(kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef {
        kind: kind.to_string(),
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
    }
}

fn multus() -> ComponentMatch {
    ComponentMatch {
        id: "multus".to_string(),
        name: "Multus".to_string(),
        role: Role::NodeAgent,
        recommended_class: "system-node-critical".to_string(),
        matched_by: "image ghcr.io/k8snetworkplumbingwg/multus-cni".to_string(),
        severity: None,
        likely: false,
    }
}

fn calico() -> ComponentMatch {
    ComponentMatch {
        id: "calico-node".to_string(),
        name: "Calico".to_string(),
        role: Role::NodeAgent,
        recommended_class: "system-node-critical".to_string(),
        matched_by: "image docker.io/calico/node".to_string(),
        severity: None,
        likely: false,
    }
}

fn flannel() -> ComponentMatch {
    ComponentMatch {
        id: "cni-agent".to_string(),
        name: "CNI agent".to_string(),
        role: Role::NodeAgent,
        recommended_class: "system-node-critical".to_string(),
        matched_by: "hostNetwork DaemonSet mounting hostPath /etc/cni/net.d".to_string(),
        severity: None,
        likely: false,
    }
}

pub fn report() -> Report {
    let multus_ds = object("DaemonSet", Some("kube-system"), "kube-multus-ds-amd64");
    let findings = vec![
        Finding {
            check: CheckId::NoPriority,
            severity: Severity::Info,
            message: "Deployment web has no priorityClassName, so its pods run at priority 0"
                .to_string(),
            object: object("Deployment", Some("shop"), "web"),
            object_inferred: false,
            location: location("apps/web/deployment.yaml", 18, 7),
            component: None,
            current_class: None,
            recommended_class: None,
            pods: vec![],
            risk: None,
            cluster: None,
            managed_by: None,
        },
        Finding {
            check: CheckId::CriticalWithoutPriority,
            severity: Severity::Error,
            message: "DaemonSet kube-flannel-ds runs a CNI agent but has no priorityClassName: \
                      the scheduler may preempt its pods and the kubelet may evict them under \
                      node pressure, taking pod networking down on that node"
                .to_string(),
            object: object("DaemonSet", Some("kube-flannel"), "kube-flannel-ds"),
            object_inferred: true,
            location: None,
            component: Some(flannel()),
            current_class: None,
            recommended_class: Some("system-node-critical".to_string()),
            pods: [
                "kube-flannel-ds-2xk9p",
                "kube-flannel-ds-5h7mn",
                "kube-flannel-ds-8tq4w",
                "kube-flannel-ds-b2c6d",
                "kube-flannel-ds-fj3ks",
                "kube-flannel-ds-q9zr1",
                "kube-flannel-ds-x7v2m",
            ]
            .into_iter()
            .map(|name| PodRef {
                namespace: Some("kube-flannel".to_string()),
                name: name.to_string(),
                location: None,
            })
            .collect(),
            risk: Some(
                "evicted 3rd of 40 under memory pressure on node-a; immune after fix; \
                 oom_score_adj 994 -> -997 (the most exposed of 7 pods)"
                    .to_string(),
            ),
            cluster: None,
            managed_by: Some(Box::new(ManagedBy {
                deployer: Deployer::HelmRelease,
                namespace: Some("kube-flannel".to_string()),
                name: "flannel".to_string(),
            })),
        },
        Finding {
            check: CheckId::PrioritySetDirectly,
            severity: Severity::Warning,
            message: "the pod template sets spec.priority: 1000; the API rejects it unless it \
                      equals the class's value"
                .to_string(),
            object: multus_ds.clone(),
            object_inferred: false,
            location: location(MULTUS_FILE, 24, 7),
            component: Some(multus()),
            current_class: None,
            recommended_class: None,
            pods: vec![],
            risk: None,
            cluster: None,
            managed_by: None,
        },
        Finding {
            check: CheckId::CriticalWithoutPriority,
            severity: Severity::Error,
            message: "DaemonSet kube-multus-ds-amd64 runs Multus but has no priorityClassName: \
                      it can be preempted or evicted, and every pod that needs a second network \
                      interface breaks with it"
                .to_string(),
            object: multus_ds,
            object_inferred: false,
            location: location(MULTUS_FILE, 22, 7),
            component: Some(multus()),
            current_class: None,
            recommended_class: Some("system-node-critical".to_string()),
            pods: vec![],
            risk: None,
            cluster: None,
            managed_by: None,
        },
        Finding {
            check: CheckId::CriticalClassTooWeak,
            severity: Severity::Warning,
            message: "Calico is a node agent but uses system-cluster-critical, which gives no OOM \
                      protection (oom_score_adj stays near 1000 for Burstable pods)"
                .to_string(),
            object: object("DaemonSet", Some("kube-system"), "calico-node"),
            object_inferred: false,
            location: location("manifests/calico.yaml", 4810, 7),
            component: Some(calico()),
            current_class: Some("system-cluster-critical".to_string()),
            recommended_class: Some("system-node-critical".to_string()),
            pods: vec![],
            risk: None,
            cluster: None,
            managed_by: None,
        },
        Finding {
            check: CheckId::InvalidPriorityClass,
            severity: Severity::Error,
            message: "PriorityClass \"system-high\" | value 2000000000 > 1000000000 & its name \
                      starts with `system-`, which is reserved: the API rejects it"
                .to_string(),
            object: object("PriorityClass", None, "system-high"),
            object_inferred: false,
            location: location("cluster/priority classes.yaml", 2, 9),
            component: None,
            current_class: None,
            recommended_class: None,
            pods: vec![],
            risk: None,
            cluster: None,
            managed_by: None,
        },
    ];
    let components = vec![
        ComponentStatus {
            object: object("Deployment", Some("kube-system"), "coredns"),
            location: location("manifests/coredns.yaml", 60, 7),
            component: ComponentMatch {
                id: "coredns".to_string(),
                name: "CoreDNS".to_string(),
                role: Role::ClusterService,
                recommended_class: "system-cluster-critical".to_string(),
                matched_by: "image registry.k8s.io/coredns/coredns".to_string(),
                severity: None,
                likely: false,
            },
            class: ClassRef::Literal {
                name: "system-cluster-critical".to_string(),
            },
            protected: true,
            cluster: None,
        },
        ComponentStatus {
            object: object("DaemonSet", Some("kube-system"), "kube-multus-ds-amd64"),
            location: location(MULTUS_FILE, 22, 7),
            component: multus(),
            class: ClassRef::Missing,
            protected: false,
            cluster: None,
        },
        ComponentStatus {
            object: object("DaemonSet", Some("kube-system"), "kube-proxy"),
            location: location("roles/kubernetes/kube-proxy/ds.yml.j2", 30, 7),
            component: ComponentMatch {
                id: "kube-proxy".to_string(),
                name: "kube-proxy".to_string(),
                role: Role::NodeAgent,
                recommended_class: "system-node-critical".to_string(),
                matched_by: "name kube-proxy".to_string(),
                severity: None,
                likely: false,
            },
            class: ClassRef::Templated {
                expression: "{{ kube_proxy_priority_class_name }}".to_string(),
                default: Some("system-node-critical".to_string()),
            },
            protected: true,
            cluster: None,
        },
        ComponentStatus {
            object: object("DaemonSet", Some("kube-system"), "calico-node"),
            location: location("manifests/calico.yaml", 4810, 7),
            component: calico(),
            class: ClassRef::Literal {
                name: "system-cluster-critical".to_string(),
            },
            protected: false,
            cluster: None,
        },
    ];
    let problems = vec![
        InputProblem {
            source: "charts/broken/templates/ds.yaml:7:3".to_string(),
            message: "mapping values are not allowed in this context".to_string(),
            skipped: false,
        },
        InputProblem {
            source: "docs/diagram.png".to_string(),
            message: "skipped: binary file".to_string(),
            skipped: true,
        },
    ];
    Report {
        findings,
        components,
        problems,
        stats: Stats {
            files: 5,
            bytes: 123_456,
            documents: 14,
            workloads: 12,
            pods: 40,
            priority_classes: 2,
            not_kubernetes: 0,
        },
        clusters: Vec::new(),
    }
}

/// What a clean audit of a small directory produces.
pub fn clean_report() -> Report {
    Report {
        stats: Stats {
            files: 1,
            bytes: 900,
            documents: 1,
            workloads: 1,
            pods: 0,
            priority_classes: 0,
            not_kubernetes: 0,
        },
        ..Report::default()
    }
}

/// Three clusters in one run: two read (the full fixture's findings as cluster objects, and a
/// clean one), one not read.
pub fn fleet_report() -> Report {
    let cluster = |context: &str, server: &str| ClusterRef {
        context: context.to_string(),
        server: server.to_string(),
    };
    let mut prod = report();
    prod.problems.clear();
    prod.stats.files = 0;
    for f in &mut prod.findings {
        f.location = None;
        for pod in &mut f.pods {
            pod.location = None;
        }
    }
    for c in &mut prod.components {
        c.location = None;
    }
    let mut fleet = Report::default();
    fleet.add_cluster(cluster("prod", "https://10.0.0.1:6443"), prod);
    let mut staging = clean_report();
    staging.stats.files = 0;
    staging.findings.push(report().findings[0].clone());
    staging.findings[0].location = None;
    fleet.add_cluster(cluster("staging", "https://10.0.0.2:6443"), staging);
    fleet.add_failed_cluster(
        cluster("edge|1", "https://10.0.0.3:6443"),
        "cannot reach the API server https://10.0.0.3:6443 (context \"edge|1\"): connection refused"
            .to_string(),
    );
    fleet
}

pub fn checks() -> Vec<CheckInfo> {
    let check = |id, severity, summary: &str, explanation: &str| CheckInfo {
        id,
        severity,
        summary: summary.to_string(),
        explanation: explanation.to_string(),
    };
    vec![
        check(
            CheckId::CriticalWithoutPriority,
            Severity::Error,
            "A critical workload has no priorityClassName",
            "Without a class the pods run at priority 0: the scheduler may preempt them for any \
             pending pod, and under node pressure the kubelet evicts them like any other pod.\n\n\
             Set `priorityClassName: system-node-critical` on node agents and \
             `system-cluster-critical` on cluster services.",
        ),
        check(
            CheckId::CriticalClassTooWeak,
            Severity::Warning,
            "A critical workload's class is weaker than recommended",
            "Only the two system classes make the kubelet treat a pod as critical, and only \
             `system-node-critical` protects it from the OOM killer.",
        ),
        check(
            CheckId::UnknownPriorityClass,
            Severity::Error,
            "The named PriorityClass does not exist",
            "The Priority admission plugin rejects pods that name a class that does not exist.",
        ),
        check(
            CheckId::InvalidPriorityClass,
            Severity::Error,
            "A PriorityClass the API server would reject",
            "User classes must have a value <= 1000000000 and a name that does not start with \
             `system-`.",
        ),
        check(
            CheckId::PrioritySetDirectly,
            Severity::Warning,
            "A pod template sets spec.priority",
            "The API fills in `spec.priority` from the class and rejects any other value.",
        ),
        check(
            CheckId::CriticalCannotPreempt,
            Severity::Warning,
            "A critical node agent's class has preemptionPolicy Never",
            "On a full node a DaemonSet pod only lands if it may preempt.",
        ),
        check(
            CheckId::SystemClassQuota,
            Severity::Warning,
            "A system class is used where a quota limits it",
            "With `limitedResources` the system classes are usable only in namespaces with a \
             matching ResourceQuota.",
        ),
        check(
            CheckId::NoPriority,
            Severity::Info,
            "A workload has no priorityClassName",
            "Its pods run at priority 0 unless a class is the global default.",
        ),
    ]
}

pub fn options(color: bool) -> RenderOptions {
    RenderOptions {
        color,
        tool_version: "0.1.0",
        show_components: true,
    }
}

pub fn render_to_string(format: Format, report: &Report, opts: &RenderOptions) -> String {
    let mut out = Vec::new();
    render(format, report, &checks(), opts, &mut out).expect("rendering into a Vec cannot fail");
    String::from_utf8(out).expect("renderers write UTF-8")
}
