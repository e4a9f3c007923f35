//! Measured resource usage per pod, which the kubelet ranks pods by under node pressure.

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
}
