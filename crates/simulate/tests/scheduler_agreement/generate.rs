//! Generates preemption scenarios: fake nodes filled with pods of mixed priorities (some
//! guarded by PodDisruptionBudgets), and one pending pod that does not fit anywhere as things
//! stand. Deterministic: scenario `i` is the same on every run.

use std::fmt::Write;

/// The PriorityClasses every scenario draws from: (name, value, preemptionPolicy Never).
pub const CLASSES: [(&str, i64, bool); 5] = [
    ("pg-low", 100, false),
    ("pg-mid", 1_000, false),
    ("pg-high", 10_000, false),
    ("pg-top", 100_000, false),
    ("pg-never", 100_000, true),
];

#[path = "../common/rng.rs"]
mod rng;
use rng::Rng;

#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub name: String,
    pub cpu_m: i64,
    pub mem_mi: i64,
    pub pods: i64,
    /// Labels beyond the fake node's own (`kubernetes.io/hostname` and the like).
    pub labels: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct PodSpec {
    pub name: String,
    pub node: Option<String>,
    pub class: Option<&'static str>,
    pub cpu_m: i64,
    pub mem_mi: i64,
    pub app: &'static str,
    /// Seconds after the scenario's base time: `status.startTime`, distinct per pod.
    pub started: u32,
    /// Required node affinity on `metadata.name`, as the DaemonSet controller pins its pods.
    pub pinned_to: Option<String>,
    /// A `hostPort` (TCP, every address), as node agents such as exporters use.
    pub host_port: Option<u16>,
    /// Labelled `role: agent`.
    pub agent: bool,
    /// A required pod anti-affinity term on `kubernetes.io/hostname` against pods with this
    /// label (`key=value`).
    pub anti_affinity: Option<&'static str>,
    /// A `DoNotSchedule` topology spread constraint.
    pub spread: Option<SpreadSpec>,
    /// A `nodeSelector` entry (`key`, `value`).
    pub node_selector: Option<(String, String)>,
}

/// A topology spread constraint over the pods labelled `app: a`.
#[derive(Clone, Debug)]
pub struct SpreadSpec {
    pub topology_key: &'static str,
    pub max_skew: i64,
    pub min_domains: Option<i64>,
    /// Select by `matchLabelKeys: [app]` (and an empty `labelSelector`) instead of
    /// `matchLabels`.
    pub match_label_keys: bool,
}

#[derive(Clone, Debug)]
pub struct PdbSpec {
    pub name: String,
    pub app: &'static str,
    pub disruptions_allowed: i64,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub kind: &'static str,
    pub namespace: String,
    pub nodes: Vec<NodeSpec>,
    pub pods: Vec<PodSpec>,
    pub pdbs: Vec<PdbSpec>,
    pub preemptor: PodSpec,
}

const APPS: [&str; 3] = ["a", "b", "c"];

/// What each scenario exercises, in turn.
pub const KINDS: [&str; 8] = [
    "cpu",
    "memory",
    "pdb",
    "pod-count",
    "daemonset",
    "special",
    "host-port",
    "anti-affinity",
];

/// After `13 * KINDS.len()` scenarios of those kinds come this many `spread` ones.
pub const SPREAD_SCENARIOS: usize = 24;

/// The label the `spread` scenarios' nodes carry with their namespace's name, and the
/// pending pod selects: nodes of earlier scenarios the scheduler may still know of then
/// make no topology domain.
pub const SCENARIO_LABEL: &str = "pg-testenv/scenario";

pub const ZONE: &str = "topology.kubernetes.io/zone";
pub const HOSTNAME: &str = "kubernetes.io/hostname";

/// The host port the `host-port` scenarios fight over.
pub const HOST_PORT: u16 = 9100;

/// Classes for pods already running (mostly below the usual preemptor's pg-top).
const RUNNING_CLASSES: [Option<&str>; 7] = [
    None,
    Some("pg-low"),
    Some("pg-low"),
    Some("pg-mid"),
    Some("pg-mid"),
    Some("pg-high"),
    Some("pg-top"),
];

pub fn scenario(id: usize) -> Scenario {
    let mut rng = Rng::new(id as u64 + 1);
    let ns = format!("s{id:02}");
    let (kind, round) = if id < 13 * KINDS.len() {
        (KINDS[id % KINDS.len()], id / KINDS.len())
    } else {
        ("spread", id - 13 * KINDS.len())
    };
    let node_count = 2 + rng.below(2) as usize + usize::from(kind == "spread");
    let mut nodes: Vec<NodeSpec> = (0..node_count)
        .map(|n| NodeSpec {
            name: format!("{ns}-n{n}"),
            cpu_m: rng.pick(&[2000, 3000, 4000]),
            mem_mi: rng.pick(&[4096, 8192]),
            pods: 110,
            labels: Vec::new(),
        })
        .collect();
    let mut pods = Vec::new();
    let mut started: Vec<u32> = (0..64).collect();
    // Shuffle start times so that age and creation order disagree.
    for i in (1..started.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        started.swap(i, j);
    }
    let mut next_pod = |node: &NodeSpec,
                        class: Option<&'static str>,
                        cpu_m,
                        mem_mi,
                        app,
                        host_port: Option<u16>| {
        let i = pods.len();
        pods.push(PodSpec {
            name: format!("p{i}"),
            node: Some(node.name.clone()),
            class,
            cpu_m,
            mem_mi,
            app,
            started: started[i],
            pinned_to: None,
            host_port,
            agent: false,
            anti_affinity: None,
            spread: None,
            node_selector: None,
        });
    };
    match kind {
        "memory" => {
            for node in &nodes {
                let mut free = node.mem_mi;
                loop {
                    let mem = rng.pick(&[512, 1024, 1536]);
                    if mem > free {
                        break;
                    }
                    free -= mem;
                    next_pod(
                        node,
                        rng.pick(&RUNNING_CLASSES),
                        100,
                        mem,
                        rng.pick(&APPS),
                        None,
                    );
                }
            }
        }
        "pod-count" => {
            for node in nodes.iter_mut() {
                node.pods = 2 + rng.below(3) as i64;
                for _ in 0..node.pods {
                    next_pod(
                        node,
                        rng.pick(&RUNNING_CLASSES),
                        100,
                        64,
                        rng.pick(&APPS),
                        None,
                    );
                }
            }
        }
        "host-port" | "anti-affinity" => {
            // Each node: a pod holding the port (or the agent the preemptor must not share a
            // node with) at some priority, then CPU filled to half or (every other round)
            // completely.
            for node in &nodes {
                let (class, app) = (rng.pick(&RUNNING_CLASSES), rng.pick(&APPS));
                let port = (kind == "host-port").then_some(HOST_PORT);
                next_pod(node, class, 250, 128, app, port);
                let mut free = if round.is_multiple_of(2) {
                    node.cpu_m / 2
                } else {
                    node.cpu_m
                } - 250;
                loop {
                    let cpu = rng.pick(&[250, 500, 750]);
                    if cpu > free {
                        break;
                    }
                    free -= cpu;
                    next_pod(
                        node,
                        rng.pick(&RUNNING_CLASSES),
                        cpu,
                        128,
                        rng.pick(&APPS),
                        None,
                    );
                }
            }
        }
        "spread" => {
            // Pods labelled `app: a` are the ones spread. Zones: n0 and n1 in z0, the rest in
            // z1; with the hostname key every node is its own domain. "Crowded" nodes (n0
            // and n1 by zone, all but the last by hostname) hold at least maxSkew of them, n0
            // most, and have CPU to spare; the others are full, with at most one. So the
            // pending pod (`app: a`, 250m) must either preempt `app: a` pods in a crowded
            // domain or make room on a full node. By turns (four rounds each): the full
            // nodes' pods outrank it, so only the spread can be fixed; every pod it could
            // preempt for either outranks it; nothing is locked (and minDomains is set).
            let by_zone = round.is_multiple_of(2);
            let max_skew = 1 + (round / 2 % 2) as u64;
            let variant = round / 4 % 3;
            let locked = |rng: &mut Rng, lock: bool| {
                if lock {
                    Some("pg-top")
                } else {
                    rng.pick(&RUNNING_CLASSES)
                }
            };
            for (n, node) in nodes.iter_mut().enumerate() {
                let zone = if n < 2 { "z0" } else { "z1" };
                node.labels.push((ZONE.into(), format!("{ns}-{zone}")));
                node.labels.push((SCENARIO_LABEL.into(), ns.clone()));
            }
            for (n, node) in nodes.iter().enumerate() {
                let crowded = if by_zone { n < 2 } else { n + 1 < node_count };
                let spread_pods = match (crowded, n) {
                    (true, 0) => max_skew + rng.below(2),
                    (true, _) if by_zone => rng.below(2),
                    (true, _) => max_skew + rng.below(2),
                    (false, _) => rng.below(2),
                };
                let lock = if crowded { variant == 1 } else { variant != 2 };
                let mut free = node.cpu_m;
                for _ in 0..spread_pods {
                    free -= 250;
                    next_pod(node, locked(&mut rng, lock), 250, 128, "a", None);
                }
                if crowded {
                    free -= node.cpu_m / 2;
                }
                while free >= 250 {
                    let cpu = rng.pick(&[250, 500, 750]).min(free);
                    free -= cpu;
                    let class = locked(&mut rng, lock && !crowded);
                    next_pod(node, class, cpu, 128, rng.pick(&["b", "c"]), None);
                }
            }
        }
        _ => {
            for node in &nodes {
                let mut free = node.cpu_m;
                loop {
                    let cpu = rng.pick(&[250, 500, 750, 1000]);
                    if cpu > free {
                        break;
                    }
                    free -= cpu;
                    next_pod(
                        node,
                        rng.pick(&RUNNING_CLASSES),
                        cpu,
                        128,
                        rng.pick(&APPS),
                        None,
                    );
                }
            }
        }
    }
    if kind == "anti-affinity" {
        // The first pod of each node is the agent. Two rounds in three the preemptor keeps
        // away from agents; in the third the agents keep away from the preemptor (the
        // scheduler's check of the running pods' terms).
        let mut seen = std::collections::BTreeSet::new();
        for p in pods.iter_mut() {
            if seen.insert(p.node.clone()) {
                p.agent = true;
                if round % 3 == 2 {
                    p.anti_affinity = Some("app=preemptor");
                }
            }
        }
    }
    let pdbs = if kind == "pdb" && round % 2 == 1 {
        // Every app under a budget that allows no disruption: any preemption violates one,
        // and the scheduler must pick the node where it violates fewest.
        (0..APPS.len())
            .map(|i| PdbSpec {
                name: format!("budget-{i}"),
                app: APPS[i],
                disruptions_allowed: 0,
            })
            .collect()
    } else if kind == "pdb" || rng.below(3) == 0 {
        let n = 1 + rng.below(2) as usize;
        (0..n)
            .map(|i| PdbSpec {
                name: format!("budget-{i}"),
                app: APPS[i],
                disruptions_allowed: rng.below(2) as i64,
            })
            .collect()
    } else {
        Vec::new()
    };
    let free = |n: &NodeSpec, f: &dyn Fn(&PodSpec) -> i64, total: i64| {
        total
            - pods
                .iter()
                .filter(|p| p.node.as_deref() == Some(&n.name))
                .map(f)
                .sum::<i64>()
    };
    let max_free_cpu = nodes
        .iter()
        .map(|n| free(n, &|p| p.cpu_m, n.cpu_m))
        .max()
        .unwrap_or(0);
    let max_free_mem = nodes
        .iter()
        .map(|n| free(n, &|p| p.mem_mi, n.mem_mi))
        .max()
        .unwrap_or(0);
    let max_cpu = nodes.iter().map(|n| n.cpu_m).max().unwrap_or(0);
    let mut preemptor = PodSpec {
        name: "preemptor".into(),
        node: None,
        class: Some(if rng.below(4) == 0 {
            "pg-high"
        } else {
            "pg-top"
        }),
        cpu_m: (max_free_cpu + 250 * (1 + rng.below(5) as i64)).min(max_cpu),
        mem_mi: 128,
        app: "preemptor",
        started: 100,
        pinned_to: None,
        host_port: None,
        agent: false,
        anti_affinity: None,
        spread: None,
        node_selector: None,
    };
    match kind {
        "memory" => {
            preemptor.cpu_m = 100;
            let max_mem = nodes.iter().map(|n| n.mem_mi).max().unwrap_or(0);
            preemptor.mem_mi = (max_free_mem + 512 * (1 + rng.below(4) as i64)).min(max_mem);
        }
        "pod-count" => preemptor.cpu_m = 100,
        "daemonset" => {
            // A node agent for a full node n0, which other nodes' room cannot help.
            preemptor.class = Some("system-node-critical");
            preemptor.cpu_m = 250 * (1 + rng.below(4) as i64);
            preemptor.pinned_to = Some(nodes[0].name.clone());
            let n0 = nodes[0].clone();
            let n0_free = free(&n0, &|p| p.cpu_m, n0.cpu_m);
            preemptor.cpu_m = preemptor.cpu_m.max(n0_free + 250).min(n0.cpu_m);
            if let Some(other) = nodes.get_mut(1) {
                other.cpu_m += 4000;
            }
        }
        "host-port" => {
            // As much CPU as the port's holder: on a full node, removing the holder must make
            // room for both. (Not more: with two victims the real scheduler may retry after
            // the first deletion, fail, and sit out its unschedulable-pods timeout.)
            preemptor.host_port = Some(HOST_PORT);
            preemptor.cpu_m = 250;
        }
        "anti-affinity" => {
            preemptor.cpu_m = 250;
            if round % 3 != 2 {
                preemptor.anti_affinity = Some("role=agent");
            }
        }
        "spread" => {
            preemptor.cpu_m = 250;
            preemptor.app = "a";
            if round / 4 % 3 == 1 {
                preemptor.class = Some("pg-top");
            }
            let domains = if round.is_multiple_of(2) {
                2
            } else {
                nodes.len() as i64
            };
            preemptor.spread = Some(SpreadSpec {
                topology_key: if round.is_multiple_of(2) {
                    ZONE
                } else {
                    HOSTNAME
                },
                max_skew: 1 + (round / 2 % 2) as i64,
                // One round in three: more domains wanted than there are, so the global
                // minimum is 0.
                min_domains: (round / 4 % 3 == 2).then_some(domains + 1),
                match_label_keys: round % 3 == 0,
            });
            preemptor.node_selector = Some((SCENARIO_LABEL.into(), ns.clone()));
        }
        "special" => match round % 3 {
            0 => preemptor.class = Some("pg-never"),
            1 => preemptor.cpu_m = max_cpu + 1000,
            _ => preemptor.class = Some("pg-low"),
        },
        _ => {}
    }
    Scenario {
        kind,
        namespace: ns,
        nodes,
        pods,
        pdbs,
        preemptor,
    }
}

/// `2026-01-01T00:MM:SSZ` for `seconds` after the base time.
pub fn start_time(seconds: u32) -> String {
    format!("2026-01-01T00:{:02}:{:02}Z", seconds / 60, seconds % 60)
}

/// The pod as a manifest; `terminationGracePeriodSeconds: 0` so that the scheduler's deletes
/// take effect at once (no kubelet will ever confirm a graceful one).
pub fn pod_yaml(ns: &str, p: &PodSpec) -> String {
    let mut y = String::new();
    let _ = writeln!(
        y,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {}\n  namespace: {ns}",
        p.name
    );
    let _ = writeln!(y, "  labels:\n    app: {}", p.app);
    if p.agent {
        y.push_str("    role: agent\n");
    }
    y.push_str("spec:\n  terminationGracePeriodSeconds: 0\n");
    if let Some(n) = &p.node {
        let _ = writeln!(y, "  nodeName: {n}");
    }
    if let Some(c) = p.class {
        let _ = writeln!(y, "  priorityClassName: {c}");
    }
    if let Some((key, value)) = &p.node_selector {
        let _ = writeln!(y, "  nodeSelector:\n    {key}: {value}");
    }
    if let Some(c) = &p.spread {
        let _ = writeln!(
            y,
            "  topologySpreadConstraints:\n  - maxSkew: {}\n    topologyKey: {}\n    whenUnsatisfiable: DoNotSchedule",
            c.max_skew, c.topology_key
        );
        if let Some(m) = c.min_domains {
            let _ = writeln!(y, "    minDomains: {m}");
        }
        if c.match_label_keys {
            y.push_str("    matchLabelKeys: [app]\n    labelSelector: {}\n");
        } else {
            y.push_str("    labelSelector:\n      matchLabels:\n        app: a\n");
        }
    }
    if p.pinned_to.is_some() || p.anti_affinity.is_some() {
        y.push_str("  affinity:\n");
    }
    if let Some(selector) = p.anti_affinity {
        let (key, value) = selector.split_once('=').unwrap();
        let _ = writeln!(
            y,
            "    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - topologyKey: kubernetes.io/hostname\n        labelSelector:\n          matchLabels:\n            {key}: {value}"
        );
    }
    if let Some(n) = &p.pinned_to {
        let _ = writeln!(
            y,
            "    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchFields:\n          - key: metadata.name\n            operator: In\n            values: [{n}]"
        );
    }
    let _ = writeln!(
        y,
        "  containers:\n  - name: main\n    image: pause:3.10\n    resources:\n      requests:\n        cpu: {}m\n        memory: {}Mi",
        p.cpu_m, p.mem_mi
    );
    if let Some(port) = p.host_port {
        let _ = writeln!(
            y,
            "    ports:\n    - containerPort: 8080\n      hostPort: {port}"
        );
    }
    y
}

pub fn pdb_yaml(ns: &str, b: &PdbSpec) -> String {
    format!(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: {}\n  namespace: {ns}\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: {}\n",
        b.name, b.app
    )
}

pub fn classes_yaml() -> String {
    CLASSES
        .iter()
        .map(|(name, value, never)| {
            let policy = if *never { "Never" } else { "PreemptLowerPriority" };
            format!(
                "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: {name}\nvalue: {value}\npreemptionPolicy: {policy}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}
