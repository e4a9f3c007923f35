//! Deterministic generators of pods (as the API stores them: requests defaulted from limits)
//! for the kubelet agreement tests. Case `i` is the same on every run.

use serde_json::{Map, Value, json};

#[path = "../common/rng.rs"]
mod rng;
use rng::Rng;

/// Memory quantities from the absurdly small (a milli-byte, which the kubelet rounds up) to the
/// absurdly large (9Pi: 1000 times it overflows int64, as the kubelet's arithmetic does too).
pub const MEMORY: [&str; 24] = [
    "0", "100m", "1", "1Ki", "4Mi", "9Mi", "10Mi", "15Mi", "17Mi", "50Mi", "64Mi", "70Mi", "100M",
    "128Mi", "256Mi", "1Gi", "1.5Gi", "2G", "4Gi", "7.99Gi", "8Gi", "100Gi", "1Pi", "9Pi",
];

const CPU: [&str; 5] = ["0", "10m", "100m", "1", "2500m"];

/// Node memory capacities: a Raspberry Pi to a large database server, round and as reported.
pub const NODE_MEMORY: [&str; 10] = [
    "512Mi",
    "1Gi",
    "2Gi",
    "4027428Ki",
    "8Gi",
    "16Gi",
    "65799012Ki",
    "256Gi",
    "1Ti",
    "3Ti",
];

/// (priorityClassName, priority): the two system classes at and off their value, user classes.
const PRIORITIES: [(Option<&str>, i64); 8] = [
    (None, 0),
    (Some("system-node-critical"), 2_000_001_000),
    (Some("system-node-critical"), 0),
    (Some("system-cluster-critical"), 2_000_000_000),
    (Some("pg-user"), 1_000_000_000),
    (Some("pg-user-critical-value"), 2_000_000_000),
    (Some("pg-low"), -10),
    (None, 1999999999),
];

/// `{"requests": {...}, "limits": {...}}` for one container (or the pod level), with
/// requests defaulted from limits as the API server does.
fn resources(rng: &mut Rng, guaranteed: bool) -> Value {
    let mut requests = Map::new();
    let mut limits = Map::new();
    let mem = rng.pick(&MEMORY);
    let cpu = rng.pick(&CPU);
    if guaranteed {
        for (k, v) in [("memory", mem), ("cpu", cpu)] {
            requests.insert(k.into(), json!(v));
            limits.insert(k.into(), json!(v));
        }
    } else {
        match rng.below(6) {
            0 => {}
            1 => {
                requests.insert("memory".into(), json!(mem));
            }
            2 => {
                requests.insert("cpu".into(), json!(cpu));
            }
            3 => {
                requests.insert("memory".into(), json!(mem));
                requests.insert("cpu".into(), json!(cpu));
                limits.insert("memory".into(), json!(rng.pick(&MEMORY)));
            }
            4 => {
                limits.insert("memory".into(), json!(mem));
                limits.insert("cpu".into(), json!(cpu));
            }
            _ => {
                requests.insert("memory".into(), json!(mem));
                limits.insert("cpu".into(), json!(cpu));
            }
        }
        if rng.chance(10) {
            requests.insert("ephemeral-storage".into(), json!("1Gi"));
        }
    }
    for (k, v) in &limits {
        requests.entry(k.clone()).or_insert(v.clone());
    }
    let mut out = Map::new();
    if !requests.is_empty() {
        out.insert("requests".into(), Value::Object(requests));
    }
    if !limits.is_empty() {
        out.insert("limits".into(), Value::Object(limits));
    }
    Value::Object(out)
}

fn container(rng: &mut Rng, name: String, guaranteed: bool, sidecar: bool) -> Value {
    let mut c = json!({"name": name, "image": "registry.invalid/app:1"});
    let r = resources(rng, guaranteed);
    if r.as_object().is_some_and(|o| !o.is_empty()) {
        c["resources"] = r;
    }
    if sidecar {
        c["restartPolicy"] = json!("Always");
    }
    c
}

/// A pod for the oom_score_adj comparison: one to four containers, sometimes init containers
/// and sidecars, pod-level resources, overhead, static/mirror annotations, every priority case.
pub fn oom_pod(i: usize, node: &str) -> Value {
    let mut rng = Rng::new(0x00AD_0000 + i as u64);
    let (class, priority) = rng.pick(&PRIORITIES);
    // About a third of the pods have every container Guaranteed-shaped.
    let guaranteed = rng.chance(30);
    let containers: Vec<Value> = (0..1 + rng.below(4))
        .map(|j| container(&mut rng, format!("c{j}"), guaranteed, false))
        .collect();
    let inits: Vec<Value> = (0..rng.below(4))
        .map(|j| {
            let sidecar = rng.chance(50);
            container(&mut rng, format!("init{j}"), guaranteed, sidecar)
        })
        .collect();
    let mut annotations = Map::new();
    match rng.below(10) {
        0 => {
            annotations.insert("kubernetes.io/config.source".into(), json!("file"));
        }
        1 => {
            annotations.insert("kubernetes.io/config.mirror".into(), json!("0123abcd"));
            annotations.insert("kubernetes.io/config.source".into(), json!("file"));
        }
        2 => {
            annotations.insert("kubernetes.io/config.source".into(), json!("api"));
        }
        _ => {}
    }
    let mut spec = json!({
        "nodeName": node,
        "priority": priority,
        "containers": containers,
    });
    if let Some(class) = class {
        spec["priorityClassName"] = json!(class);
    }
    if !inits.is_empty() {
        spec["initContainers"] = json!(inits);
    }
    if rng.chance(25) {
        // Pod-level resources (PodLevelResources, beta and on by default since 1.34).
        let guaranteed = rng.chance(40);
        let r = resources(&mut rng, guaranteed);
        if r.as_object().is_some_and(|o| !o.is_empty()) {
            spec["resources"] = r;
        }
    }
    if rng.chance(15) {
        spec["overhead"] = json!({"memory": rng.pick(&["120Mi", "1Gi"]), "cpu": "250m"});
    }
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": "oom", "name": format!("case-{i}")},
        "spec": spec,
    });
    if !annotations.is_empty() {
        pod["metadata"]["annotations"] = Value::Object(annotations);
    }
    if rng.chance(10) {
        // status.qosClass, which GetPodQOS trusts over the spec (fixed at creation).
        pod["status"] = json!({"qosClass": rng.pick(&["Guaranteed", "Burstable", "BestEffort"])});
    }
    pod
}

/// Under which pressure a scenario runs: the harness's name and the simulator's.
pub const PRESSURES: [(&str, pg_simulate::Pressure); 3] = [
    ("memory", pg_simulate::Pressure::Memory),
    ("nodefs", pg_simulate::Pressure::EphemeralStorage),
    ("pid", pg_simulate::Pressure::Pid),
];

/// (priorityClassName, priority, static-pod annotation): around the critical threshold of
/// 2000000000, user classes, and static and mirror pods at any priority.
const EVICTION_PRIORITIES: [(Option<&str>, i64, Option<&str>); 11] = [
    (None, 0, None),
    (None, 0, None),
    (Some("pg-low"), 100, None),
    (Some("pg-high"), 1_000_000_000, None),
    (Some("pg-almost"), 1_999_999_999, None),
    (Some("system-cluster-critical"), 2_000_000_000, None),
    (Some("system-node-critical"), 2_000_001_000, None),
    (Some("pg-negative"), -5, None),
    (None, 0, Some("file")),
    (None, 100, Some("mirror")),
    (None, 0, Some("api")),
];

/// Requests (bytes) the pods draw from, for memory and ephemeral storage: none, a milli-byte,
/// small, and large.
const REQUESTS: [Option<&str>; 7] = [
    None,
    None,
    Some("100m"),
    Some("64Mi"),
    Some("100Mi"),
    Some("100M"),
    Some("1Gi"),
];

pub struct EvictionPod {
    pub json: Value,
    pub key: String,
    pub usage: i64,
}

pub struct EvictionScenario {
    pub namespace: String,
    pub node: String,
    pub pressure: usize,
    pub pods: Vec<EvictionPod>,
}

fn request(rng: &mut Rng, resource: &str) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(q) = rng.pick(&REQUESTS) {
        m.insert(resource.into(), json!(q));
    }
    m
}

/// Scenario `i`: 1 to 12 pods on one node under memory, ephemeral-storage or PID pressure.
pub fn eviction_scenario(i: usize) -> EvictionScenario {
    let mut rng = Rng::new(0xE71C_0000 + i as u64);
    let pressure = i % PRESSURES.len();
    let namespace = format!("ev-{i}");
    let node = format!("node-{i}");
    let resource = match PRESSURES[pressure].0 {
        "nodefs" => "ephemeral-storage",
        _ => "memory",
    };
    // A few usage values shared by several pods, so equal usage (and ties) happen often.
    let shared: Vec<i64> = (0..3)
        .map(|_| rng.pick(&[0, 1, 50 << 20, 100 << 20, 104_857_601, 1 << 30]))
        .collect();
    let n = 1 + rng.below(12) as usize;
    let mut pods = Vec::new();
    for j in 0..n {
        let (class, priority, source) = rng.pick(&EVICTION_PRIORITIES);
        // Mostly one or two containers; sometimes up to six.
        let most = if rng.chance(20) { 6 } else { 2 };
        let containers: Vec<Value> = (0..1 + rng.below(most))
            .map(|k| {
                let mut c = json!({"name": format!("c{k}"), "image": "registry.invalid/app:1"});
                let req = request(&mut rng, resource);
                if !req.is_empty() {
                    c["resources"] = json!({"requests": req});
                }
                c
            })
            .collect();
        let inits: Vec<Value> = (0..rng.below(3))
            .map(|k| {
                let mut c = json!({"name": format!("init{k}"), "image": "registry.invalid/init:1"});
                let req = request(&mut rng, resource);
                if !req.is_empty() {
                    c["resources"] = json!({"requests": req});
                }
                if rng.chance(50) {
                    c["restartPolicy"] = json!("Always");
                }
                c
            })
            .collect();
        let mut spec = json!({"nodeName": node, "priority": priority, "containers": containers});
        if let Some(class) = class {
            spec["priorityClassName"] = json!(class);
        }
        if !inits.is_empty() {
            spec["initContainers"] = json!(inits);
        }
        if rng.chance(10) {
            // Pod-level resources replace the containers' requests (memory only; the kubelet
            // then counts no ephemeral-storage request at all).
            spec["resources"] = json!({"requests": {"memory": rng.pick(&["128Mi", "1Gi"])}});
        }
        if rng.chance(10) {
            spec["overhead"] = json!({"memory": "120Mi", "ephemeral-storage": "10Mi"});
        }
        let name = format!("p{j}");
        let mut json = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"namespace": namespace, "name": name},
            "spec": spec,
            "status": {"phase": "Running"},
        });
        match source {
            Some("mirror") => {
                json["metadata"]["annotations"] = json!({
                    "kubernetes.io/config.source": "file",
                    "kubernetes.io/config.mirror": "0123abcd"});
            }
            Some(s) => {
                json["metadata"]["annotations"] = json!({"kubernetes.io/config.source": s});
            }
            None => {}
        }
        let usage = if PRESSURES[pressure].0 == "pid" {
            rng.pick(&[0, 1, 5, 5, 40, 1000])
        } else if rng.chance(40) {
            rng.pick(&shared)
        } else {
            // Around the requests above: below, at, just over, far over.
            rng.pick(&[
                0,
                1,
                64 << 20,
                (64 << 20) + 1,
                100 << 20,
                100_000_000,
                100_000_001,
                1 << 30,
                3 << 30,
            ])
        };
        pods.push(EvictionPod {
            json,
            key: format!("{namespace}/{name}"),
            usage,
        });
    }
    EvictionScenario {
        namespace,
        node,
        pressure,
        pods,
    }
}
