//! Reads measured resource usage per pod, which the kubelet ranks pods by under node pressure.
//!
//! Sources, later ones winning per pod: PodMetrics objects in the snapshot (memory working
//! set), and `--usage FILE` in one of two formats:
//!
//! ```yaml
//! # a map from namespace/pod to quantities
//! kube-system/kube-multus-ds-x7k2p: {memory: 48Mi, ephemeral-storage: 10Mi}
//! shop/cart-0: {memory: 1.2Gi, processes: 40}
//! ```
//!
//! or the kubelet's own stats summary (`kubectl get --raw
//! /api/v1/nodes/NODE/proxy/stats/summary`), from which the eviction manager itself reads
//! `memory.workingSetBytes`, `ephemeral-storage.usedBytes` and `process_stats.process_count`.

use super::SnapshotError;
use pg_model::snapshot::{PodUsage, Quantity, Usage};
use pg_yaml::{NodeId, NodeKind, ScalarStyle, Tree};
use std::collections::BTreeMap;

/// A usage file (either format, see the module docs).
pub fn load(path: &str) -> Result<Usage, SnapshotError> {
    let text = std::fs::read(path).map_err(|source| SnapshotError::Io {
        path: path.to_string(),
        source,
    })?;
    parse(&text, path)
}

/// Either format (see the module docs), in JSON or YAML.
pub fn parse(text: &[u8], source: &str) -> Result<Usage, SnapshotError> {
    let text = std::str::from_utf8(text).map_err(|e| SnapshotError::Parse {
        input: source.to_string(),
        message: e.to_string(),
    })?;
    let mut pods = None;
    pg_yaml::parse_documents(text, |unit| {
        pods.get_or_insert_with(|| read_pods(unit.tree, unit.root, source));
    })
    .map_err(|e| SnapshotError::Parse {
        input: format!("{source}:{}:{}", e.line, e.col),
        message: e.message,
    })?;
    let pods = pods.unwrap_or_else(|| Err(not_usage(source, 1)))?;
    Ok(Usage {
        pods,
        source: Some(source.to_string()),
    })
}

fn not_usage(source: &str, line: usize) -> SnapshotError {
    SnapshotError::Parse {
        input: format!("{source}:{line}"),
        message: "expected a map of namespace/pod to usage, or a kubelet stats summary".into(),
    }
}

/// The first document's pods, in either format; errors name the line they are about.
fn read_pods(
    tree: &Tree,
    root: NodeId,
    source: &str,
) -> Result<BTreeMap<String, PodUsage>, SnapshotError> {
    let err = |id: NodeId, message: String| SnapshotError::Parse {
        input: format!("{source}:{}", tree.node(id).start.line),
        message,
    };
    let NodeKind::Map(entries) = &tree.node(root).kind else {
        return Err(not_usage(source, tree.node(root).start.line));
    };
    let mut pods = BTreeMap::new();
    if let (Some(list), Some(_)) = (tree.get(root, "pods"), tree.get(root, "node"))
        && let NodeKind::Seq(items) = &tree.node(list).kind
    {
        let text = |id, path: &[&str]| tree.path(id, path).and_then(|n| tree.scalar(n));
        let int = |id, path: &[&str]| text(id, path).and_then(|t| t.parse::<i64>().ok());
        for &p in items {
            let ns = text(p, &["podRef", "namespace"]).unwrap_or("default");
            let name = text(p, &["podRef", "name"]).unwrap_or_default();
            pods.insert(
                format!("{ns}/{name}"),
                PodUsage {
                    memory: int(p, &["memory", "workingSetBytes"]),
                    ephemeral_storage: int(p, &["ephemeral-storage", "usedBytes"]),
                    processes: int(p, &["process_stats", "process_count"]),
                },
            );
        }
        return Ok(pods);
    }
    for &(key_id, value) in entries {
        let Some(key) = tree.scalar(key_id).filter(|k| k.contains('/')) else {
            let shown = tree.scalar(key_id).unwrap_or("a collection");
            return Err(err(key_id, format!("{shown:?}: keys are namespace/pod")));
        };
        // Numbers are read as the text written (`memory: 1000`), as Kubernetes reads a
        // quantity; null or absent is "not measured".
        let quantity = |name: &str| -> Result<Option<i64>, SnapshotError> {
            let Some(id) = tree.get(value, name) else {
                return Ok(None);
            };
            match &tree.node(id).kind {
                NodeKind::Scalar {
                    value,
                    style: ScalarStyle::Plain,
                } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL") => Ok(None),
                NodeKind::Scalar { value: text, .. } => Quantity::parse(text)
                    .map(|q| Some(q.value()))
                    .map_err(|e| err(id, format!("{key}: {name}: {e}"))),
                _ => Err(err(id, format!("{key}: {name}: not a quantity"))),
            }
        };
        pods.insert(
            key.to_string(),
            PodUsage {
                memory: quantity("memory")?,
                ephemeral_storage: quantity("ephemeral-storage")?,
                processes: quantity("processes")?,
            },
        );
    }
    Ok(pods)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_map() {
        let u = parse(
            b"kube-system/multus: {memory: 48Mi, ephemeral-storage: 1Gi, processes: 12}\nshop/cart: {memory: 1000}\n",
            "u.yaml",
        )
        .unwrap();
        assert_eq!(u.get("kube-system/multus").unwrap().memory, Some(48 << 20));
        assert_eq!(
            u.get("kube-system/multus").unwrap().ephemeral_storage,
            Some(1 << 30)
        );
        assert_eq!(u.get("kube-system/multus").unwrap().processes, Some(12));
        assert_eq!(u.get("shop/cart").unwrap().ephemeral_storage, None);
        let err = parse(b"a/b: {memory: 1}\nnopod: {memory: 1}", "u").unwrap_err();
        assert_eq!(err.to_string(), "u:2: \"nopod\": keys are namespace/pod");
        let err = parse(b"a/b:\n  memory: lots\n", "u").unwrap_err();
        assert!(err.to_string().starts_with("u:2: a/b: memory: "), "{err}");
        let err = parse(b"a/b: {memory: [}\n", "u").unwrap_err();
        assert!(err.to_string().starts_with("u:1:"), "{err}");
        assert!(parse(b"- a/b\n", "u").is_err());
    }

    #[test]
    fn kubelet_stats_summary() {
        let json = br#"{"node":{"nodeName":"n1"},"pods":[{"podRef":{"name":"p","namespace":"ns","uid":"u"},
            "memory":{"workingSetBytes":1048576,"usageBytes":2097152},
            "ephemeral-storage":{"usedBytes":4096},"process_stats":{"process_count":7}}]}"#;
        let u = parse(json, "summary.json").unwrap();
        assert_eq!(
            u.get("ns/p"),
            Some(&PodUsage {
                memory: Some(1 << 20),
                ephemeral_storage: Some(4096),
                processes: Some(7),
            })
        );
    }
}
