//! Measured resource usage per pod, which the kubelet ranks pods by under node pressure.
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

use crate::SimulateError;
use crate::quantity::Quantity;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodUsage {
    /// Bytes of memory working set.
    pub memory: Option<i64>,
    /// Bytes of local ephemeral storage (container writable layers, logs, emptyDirs).
    pub ephemeral_storage: Option<i64>,
    /// Processes (PID pressure).
    pub processes: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct Usage {
    /// By `namespace/name`.
    pub pods: BTreeMap<String, PodUsage>,
    /// Where the numbers came from, for the output.
    pub source: Option<String>,
}

impl Usage {
    /// Adds `other`'s numbers, replacing ours for the pods and resources it has.
    pub fn merge(&mut self, other: Usage) {
        for (k, u) in other.pods {
            let slot = self.pods.entry(k).or_default();
            slot.memory = u.memory.or(slot.memory);
            slot.ephemeral_storage = u.ephemeral_storage.or(slot.ephemeral_storage);
            slot.processes = u.processes.or(slot.processes);
        }
        self.source = match (self.source.take(), other.source) {
            (Some(a), Some(b)) => Some(format!("{a}, {b}")),
            (a, b) => a.or(b),
        };
    }

    pub fn get(&self, key: &str) -> Option<&PodUsage> {
        self.pods.get(key)
    }

    pub fn load(path: &str) -> Result<Usage, SimulateError> {
        let text = std::fs::read(path).map_err(|source| SimulateError::Io {
            path: path.to_string(),
            source,
        })?;
        Usage::parse(&text, path)
    }

    /// Either format (see the module docs), in JSON or YAML.
    pub fn parse(text: &[u8], source: &str) -> Result<Usage, SimulateError> {
        let err = |message: String| SimulateError::Parse {
            input: source.to_string(),
            message,
        };
        let text = std::str::from_utf8(text).map_err(|e| err(e.to_string()))?;
        let value: Value = serde_yaml_ng::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut usage = Usage {
            source: Some(source.to_string()),
            ..Usage::default()
        };
        let Value::Mapping(map) = value else {
            return Err(err(
                "expected a map of namespace/pod to usage, or a kubelet stats summary".into(),
            ));
        };
        if let (Some(Value::Sequence(pods)), true) = (map.get("pods"), map.contains_key("node")) {
            for p in pods {
                let ns = p["podRef"]["namespace"].as_str().unwrap_or("default");
                let name = p["podRef"]["name"].as_str().unwrap_or_default();
                usage.pods.insert(
                    format!("{ns}/{name}"),
                    PodUsage {
                        memory: p["memory"]["workingSetBytes"].as_i64(),
                        ephemeral_storage: p["ephemeral-storage"]["usedBytes"].as_i64(),
                        processes: p["process_stats"]["process_count"].as_i64(),
                    },
                );
            }
            return Ok(usage);
        }
        for (key, v) in &map {
            let Some(key) = key.as_str().filter(|k| k.contains('/')) else {
                return Err(err(format!("{key:?}: keys are namespace/pod")));
            };
            let quantity = |name: &str| -> Result<Option<i64>, SimulateError> {
                let text = match &v[name] {
                    Value::Null => return Ok(None),
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => return Err(err(format!("{key}: {name}: not a quantity: {other:?}"))),
                };
                Quantity::parse(&text)
                    .map(|q| Some(q.value()))
                    .map_err(|e| err(format!("{key}: {name}: {e}")))
            };
            usage.pods.insert(
                key.to_string(),
                PodUsage {
                    memory: quantity("memory")?,
                    ephemeral_storage: quantity("ephemeral-storage")?,
                    processes: quantity("processes")?,
                },
            );
        }
        Ok(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_map() {
        let u = Usage::parse(
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
        assert!(Usage::parse(b"nopod: {memory: 1}", "u").is_err());
        assert!(Usage::parse(b"a/b: {memory: lots}", "u").is_err());
    }

    #[test]
    fn kubelet_stats_summary() {
        let json = br#"{"node":{"nodeName":"n1"},"pods":[{"podRef":{"name":"p","namespace":"ns","uid":"u"},
            "memory":{"workingSetBytes":1048576,"usageBytes":2097152},
            "ephemeral-storage":{"usedBytes":4096},"process_stats":{"process_count":7}}]}"#;
        let u = Usage::parse(json, "summary.json").unwrap();
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
