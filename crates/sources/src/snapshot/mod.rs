//! The simulator's inputs: a cluster snapshot (`kubectl get
//! nodes,pods,priorityclasses,poddisruptionbudgets -A -o json`, one file or several, JSON or
//! YAML, optionally with `kubectl get podmetrics -A -o json` for measured memory; audited
//! manifests; or the same objects listed from a live cluster), measured usage ([`usage`]), and
//! the pending pod to place ([`pending_pod`]). Everything downstream (pg-simulate, pg-report)
//! sees only the [`Snapshot`], [`Usage`] and [`Pod`] of [`pg_model::snapshot`] they produce.

mod convert;
mod pending;
pub mod raw;
pub mod usage;

pub use pending::parse as pending_pod;

use pg_model::snapshot::{MEMORY, Pdb, Pod, PodUsage, Quantity, Snapshot, Usage};
use std::collections::HashSet;
use std::io::{BufRead, Read};
use std::ops::ControlFlow;

use convert::scaled;

/// Why a snapshot, a usage file or the pending pod could not be read; each is one line naming
/// the input.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{input}: {message}")]
    Parse { input: String, message: String },
}

/// A YAML input's error, placed at `file:line` (and column, when the parser knows it).
fn yaml_error(source: &str, e: pg_yaml::ReadError) -> SnapshotError {
    SnapshotError::Parse {
        input: format!("{source}:{}", e.position()),
        message: e.message,
    }
}

/// Accumulates items from any number of inputs; [`Builder::finish`] resolves priorities once
/// every PriorityClass is known (kubectl lists classes after pods).
#[derive(Default)]
pub struct Builder {
    items: Vec<raw::Item>,
}

impl Builder {
    pub fn add(&mut self, item: raw::Item) {
        match item.items {
            Some(items) => items.into_iter().for_each(|i| self.add(i)),
            None => self.items.push(item),
        }
    }

    /// Reads JSON (one value, a top-level array, or several values one after another) or YAML
    /// (several documents), whichever `text` is.
    pub fn add_text(&mut self, text: &[u8], source: &str) -> Result<(), SnapshotError> {
        let parse = |message: String| SnapshotError::Parse {
            input: source.to_string(),
            message,
        };
        let first = text.iter().find(|b| !b.is_ascii_whitespace());
        match first {
            None => Ok(()),
            Some(b'[') => {
                let items: Vec<raw::Item> =
                    serde_json::from_slice(text).map_err(|e| parse(e.to_string()))?;
                items.into_iter().for_each(|i| self.add(i));
                Ok(())
            }
            Some(b'{') => {
                for item in serde_json::Deserializer::from_slice(text).into_iter::<raw::Item>() {
                    self.add(item.map_err(|e| parse(e.to_string()))?);
                }
                Ok(())
            }
            Some(_) => {
                let text = std::str::from_utf8(text).map_err(|e| parse(e.to_string()))?;
                pg_yaml::read_each(text, |item: raw::Item| {
                    self.add(item);
                    ControlFlow::Continue(())
                })
                .map_err(|e| yaml_error(source, e))
            }
        }
    }

    /// One page of a list from the API (`{"items": [...]}`): its items carry no `kind`.
    pub fn add_list_page(&mut self, kind: &str, page: &str) -> Result<(), String> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            items: Vec<raw::Item>,
        }
        let page: Page = serde_json::from_str(page).map_err(|e| e.to_string())?;
        for mut item in page.items {
            item.kind = Some(kind.to_string());
            self.items.push(item);
        }
        Ok(())
    }

    /// A file, or standard input for `-`. JSON is parsed as it is read (only the fields kept
    /// take memory, however big the dump); YAML is read whole.
    pub fn add_file(&mut self, path: &str) -> Result<(), SnapshotError> {
        let io = |source: std::io::Error| SnapshotError::Io {
            path: path.to_string(),
            source,
        };
        let source = if path == "-" { "<stdin>" } else { path };
        let reader: Box<dyn Read> = if path == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(path).map_err(io)?)
        };
        let mut reader = std::io::BufReader::with_capacity(1 << 20, reader);
        let first = loop {
            let buf = reader.fill_buf().map_err(io)?;
            if buf.is_empty() {
                return Ok(());
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => break buf[i],
                None => {
                    let n = buf.len();
                    reader.consume(n);
                }
            }
        };
        let parse = |message: String| SnapshotError::Parse {
            input: source.to_string(),
            message,
        };
        match first {
            b'[' => {
                let items: Vec<raw::Item> =
                    serde_json::from_reader(reader).map_err(|e| parse(e.to_string()))?;
                items.into_iter().for_each(|i| self.add(i));
            }
            b'{' => {
                for item in serde_json::Deserializer::from_reader(reader).into_iter::<raw::Item>() {
                    self.add(item.map_err(|e| parse(e.to_string()))?);
                }
            }
            _ => {
                let mut text = Vec::new();
                reader.read_to_end(&mut text).map_err(io)?;
                self.add_text(&text, source)?;
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Snapshot {
        let mut s = Snapshot::from_parts(Vec::new(), Vec::new(), Vec::new());
        let mut raw_pods = Vec::new();
        for item in self.items {
            let Some(kind) = item.kind.as_deref() else {
                continue;
            };
            match kind {
                "PriorityClass" => {
                    if let Some(c) = convert::class(&item) {
                        s.classes.insert(c.name.clone(), c);
                    }
                }
                "Pod" => raw_pods.push(item),
                "Node" => {
                    let meta = item.metadata.unwrap_or_default();
                    let node = convert::node(
                        &meta,
                        item.spec.as_ref(),
                        item.status.as_ref(),
                        &mut s.warnings,
                    );
                    s.nodes.push(node);
                }
                "PodDisruptionBudget" => {
                    let meta = item.metadata.unwrap_or_default();
                    s.pdbs.push(convert::pdb(
                        &meta,
                        item.spec.as_ref(),
                        item.status.as_ref(),
                    ));
                }
                "PodMetrics" => add_metrics(&mut s.usage, &item, &mut s.warnings),
                _ => {}
            }
        }
        let mut pods = Vec::with_capacity(raw_pods.len());
        for item in raw_pods {
            let meta = item.metadata.unwrap_or_default();
            let spec = item.spec.unwrap_or_default();
            let mut pod = convert::pod(&meta, &spec, item.status.as_ref(), &mut s.warnings);
            if let Err(w) = s.resolve_priority(&mut pod, spec.priority) {
                s.warnings.push(w);
            }
            pods.push(pod);
        }
        estimate_budgets(&mut s.pdbs, &pods, &mut s.warnings);
        s.set_pods(pods);
        let known: HashSet<&str> = s.nodes.iter().map(|n| n.name.as_str()).collect();
        let orphans = s
            .pods
            .iter()
            .filter(|p| !p.is_terminal())
            .filter(|p| p.node_name.as_deref().is_some_and(|n| !known.contains(n)))
            .count();
        if orphans > 0 {
            s.warnings.push(format!(
                "{orphans} pods are bound to nodes the snapshot does not have; add nodes to the `kubectl get` (nodes,pods,priorityclasses,poddisruptionbudgets)"
            ));
        }
        s
    }
}

/// The snapshot that `files` hold together, when they hold nodes: what `audit` reads again
/// for risk lines when its inputs include a `kubectl get nodes,pods,... -o json` dump. Files
/// that are no snapshot (templates, plain manifests) add nothing, and the errors they give
/// when read as one (a template is not YAML, a field has the wrong type) say nothing about
/// the snapshot, so they are not returned: the audit has already read every file as itself.
pub fn from_audited_files(files: &[&str]) -> Option<Snapshot> {
    let mut builder = Builder::default();
    for f in files {
        // Deliberately ignored: see above.
        let _ = builder.add_file(f);
    }
    let snapshot = builder.finish();
    (!snapshot.nodes.is_empty()).then_some(snapshot)
}

fn add_metrics(usage: &mut Usage, item: &raw::Item, warnings: &mut Vec<String>) {
    let Some(meta) = &item.metadata else { return };
    let key = format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or_default()
    );
    let mut memory = Quantity::ZERO;
    for c in item.containers.iter().flatten() {
        let what = format!("PodMetrics {key}");
        let list = convert::resources(c.usage.as_ref(), &what, warnings);
        if let Some(m) = list.get(MEMORY) {
            memory += *m;
        }
    }
    usage.pods.insert(
        key,
        PodUsage {
            memory: Some(memory.value()),
            ephemeral_storage: None,
            processes: None,
        },
    );
    usage.source = Some("PodMetrics in the snapshot".into());
}

/// Reads snapshot files (`-` for stdin).
pub fn load(paths: &[String]) -> Result<Snapshot, SnapshotError> {
    let mut b = Builder::default();
    for p in paths {
        b.add_file(p)?;
    }
    Ok(b.finish())
}

/// Budgets without a status (manifests) get `disruptionsAllowed` estimated the way the
/// disruption controller computes it, counting every matching running pod as healthy.
fn estimate_budgets(pdbs: &mut [Pdb], pods: &[Pod], warnings: &mut Vec<String>) {
    for pdb in pdbs.iter_mut().filter(|pdb| !pdb.from_status) {
        let healthy = pods
            .iter()
            .filter(|p| !p.is_terminal() && pdb.matches(p))
            .count() as i64;
        let desired = match (&pdb.min_available, &pdb.max_unavailable) {
            (Some(min), _) => scaled(min, healthy),
            (None, Some(max)) => scaled(max, healthy).map(|m| healthy - m),
            (None, None) => Some(0),
        };
        let allowed = desired.map_or(0, |d| (healthy - d).max(0));
        let name = format!("{}/{}", pdb.namespace, pdb.name);
        pdb.disruptions_allowed = allowed;
        warnings.push(format!(
            "PodDisruptionBudget {name} has no status; disruptionsAllowed estimated as {allowed} (all {healthy} matching pods counted healthy)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"{"apiVersion":"v1","kind":"List","items":[
      {"kind":"Node","metadata":{"name":"n1","labels":{"kubernetes.io/hostname":"n1"}},
       "spec":{"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]},
       "status":{"capacity":{"cpu":"4","memory":"8Gi","pods":"110"},
                 "allocatable":{"cpu":"3800m","memory":"7.5Gi","pods":"110"}}},
      {"kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"},
         "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{...}"},
         "ownerReferences":[{"kind":"ReplicaSet","name":"web-1","controller":true}]},
       "spec":{"nodeName":"n1","priorityClassName":"apps","containers":[
         {"name":"c","image":"nginx","resources":{"requests":{"cpu":"250m","memory":"256Mi"}}}]},
       "status":{"phase":"Running","qosClass":"Burstable","startTime":"2026-01-01T00:00:00Z"}},
      {"kind":"Pod","metadata":{"name":"kube-apiserver-n1","namespace":"kube-system",
         "annotations":{"kubernetes.io/config.mirror":"abc","kubernetes.io/config.source":"file"}},
       "spec":{"nodeName":"n1","priority":2000001000,"priorityClassName":"system-node-critical",
         "containers":[{"name":"a","image":"kube-apiserver","resources":{"requests":{"cpu":1}}}]}},
      {"kind":"PriorityClass","metadata":{"name":"apps"},"value":1000,"preemptionPolicy":"Never"},
      {"kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":"shop"},
       "spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"web"}}},
       "status":{"disruptionsAllowed":0}}
    ]}"#;

    #[test]
    fn reads_a_kubectl_list() {
        let mut b = Builder::default();
        b.add_text(LIST.as_bytes(), "t.json").unwrap();
        let s = b.finish();
        assert_eq!(s.nodes.len(), 1);
        assert_eq!(s.nodes[0].allocatable["memory"].value(), 15 << 29);
        assert_eq!(s.nodes[0].memory_capacity(), Some(8 << 30));
        assert_eq!(s.nodes[0].taints.len(), 1);
        let web = &s.pods[0];
        assert_eq!(
            web.priority, 1000,
            "resolved from the class listed after it"
        );
        assert!(web.preemption_never);
        assert_eq!(web.owner.as_ref().unwrap().kind, "ReplicaSet");
        assert!(!web.static_or_mirror);
        assert!(s.pods[1].static_or_mirror && s.pods[1].is_critical());
        assert!(s.pods[1].is_node_critical());
        assert_eq!(s.pdbs[0].disruptions_allowed, 0);
        assert!(s.pdbs[0].matches(web));
        assert_eq!(s.classes.len(), 3);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn reads_yaml_and_defaults_requests_to_limits() {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    resources:\n      limits:\n        cpu: 0.5\n        memory: 1e3\n";
        let mut b = Builder::default();
        b.add_text(yaml.as_bytes(), "p.yaml").unwrap();
        let s = b.finish();
        let c = &s.pods[0].containers[0];
        assert_eq!(c.requests["cpu"].milli_value(), 500);
        assert_eq!(c.requests["memory"].value(), 1000);
        assert_eq!(s.pods[0].namespace, "default");
    }

    #[test]
    fn unknown_classes_and_budgets_without_status_are_reported() {
        let yaml = "kind: Pod\nmetadata: {name: p, namespace: a, labels: {app: x}}\nspec:\n  priorityClassName: nope\n  containers: [{name: c}]\n---\nkind: PodDisruptionBudget\nmetadata: {name: b, namespace: a}\nspec:\n  maxUnavailable: 50%\n  selector: {matchLabels: {app: x}}\n";
        let mut b = Builder::default();
        b.add_text(yaml.as_bytes(), "p.yaml").unwrap();
        let s = b.finish();
        assert_eq!(s.pods[0].priority, 0);
        assert!(s.warnings[0].contains("PriorityClass nope"));
        // 1 healthy pod, maxUnavailable 50% of 1 rounds up to 1: one disruption allowed.
        assert_eq!(s.pdbs[0].disruptions_allowed, 1);
        assert!(s.warnings[1].contains("estimated"));
    }

    #[test]
    fn reads_hard_spread_constraints_only_with_defaults_and_match_label_keys() {
        let yaml = "kind: Pod\nmetadata: {name: p, namespace: a, labels: {app: x, pod-template-hash: h1}}\nspec:\n  containers: [{name: c}]\n  topologySpreadConstraints:\n  - {maxSkew: 2, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: x}}}\n  - maxSkew: 1\n    topologyKey: kubernetes.io/hostname\n    whenUnsatisfiable: DoNotSchedule\n    labelSelector: {matchLabels: {app: x}}\n    matchLabelKeys: [pod-template-hash, absent]\n  - {maxSkew: 3, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, minDomains: 3, nodeAffinityPolicy: Ignore, nodeTaintsPolicy: Honor}\n";
        let mut b = Builder::default();
        b.add_text(yaml.as_bytes(), "p.yaml").unwrap();
        let s = b.finish();
        let spread = &s.pods[0].spread;
        assert_eq!(spread.len(), 2, "ScheduleAnyway only scores: {spread:?}");
        let host = &spread[0];
        assert_eq!(
            (host.max_skew, host.topology_key.as_str(), host.min_domains),
            (1, "kubernetes.io/hostname", 1)
        );
        assert!(host.honor_node_affinity && !host.honor_node_taints);
        let mut labels: pg_model::snapshot::Labels = [("app".to_string(), "x".to_string())].into();
        assert!(!host.selects(&labels), "the template hash is required too");
        labels.insert("pod-template-hash".into(), "h1".into());
        assert!(host.selects(&labels) && host.counts(&labels));
        let zone = &spread[1];
        assert_eq!((zone.max_skew, zone.min_domains), (3, 3));
        assert!(!zone.honor_node_affinity && zone.honor_node_taints);
        assert!(!zone.selects(&labels), "no labelSelector: no pod");
    }

    #[test]
    fn yaml_1_1_booleans_are_read_as_kubectl_reads_them() {
        // sigs.k8s.io/yaml reads `yes`, `on` and `y` as true where a boolean is expected.
        let yaml = "kind: PriorityClass\nmetadata: {name: default-high}\nvalue: 5000\nglobalDefault: yes\n---\nkind: PriorityClass\nmetadata: {name: other}\nvalue: 7000\nglobalDefault: no\n---\nkind: Node\nmetadata: {name: n1}\nspec: {unschedulable: on}\n---\nkind: Pod\nmetadata:\n  name: p\n  ownerReferences: [{kind: DaemonSet, name: ds, controller: Y}]\nspec:\n  nodeName: n1\n  hostNetwork: On\n  containers: [{name: c}]\n";
        let mut b = Builder::default();
        b.add_text(yaml.as_bytes(), "s.yaml").unwrap();
        let s = b.finish();
        assert!(s.classes["default-high"].global_default);
        assert!(!s.classes["other"].global_default);
        assert!(s.nodes[0].unschedulable);
        let pod = &s.pods[0];
        assert!(pod.host_network);
        assert_eq!(pod.owner.as_ref().unwrap().kind, "DaemonSet");
        assert_eq!(pod.priority, 5000, "the global default's value");
    }

    #[test]
    fn bad_yaml_names_file_and_line() {
        let mut b = Builder::default();
        let err = b
            .add_text(b"kind: Pod\nspec:\n  priority: high\n", "p.yaml")
            .unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:3: "), "{err}");
        let err = b
            .add_text(
                b"kind: Pod\n---\nkind: Pod\nmetadata: {name: [}\n",
                "p.yaml",
            )
            .unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:4:"), "{err}");
        assert_eq!(err.to_string().lines().count(), 1, "{err}");
    }

    #[test]
    fn bad_json_names_the_source() {
        let mut b = Builder::default();
        let err = b.add_text(b"{\"kind\": ", "x.json").unwrap_err();
        assert!(err.to_string().starts_with("x.json: "), "{err}");
    }
}
