//! Objects tests keep needing: fake nodes for the scheduler, a fixed pod template.

use serde_json::json;

use crate::TestCluster;

impl TestCluster {
    /// Sets `priorityClassName` in a workload's pod template, as a user fixing it by hand
    /// would: `workload` is `daemonset/kube-multus-ds`-style.
    pub fn set_template_class(&self, workload: &str, namespace: &str, class: &str) {
        let patch =
            format!(r#"{{"spec":{{"template":{{"spec":{{"priorityClassName":"{class}"}}}}}}}}"#);
        self.kubectl_ok(
            &[
                "patch",
                workload,
                "-n",
                namespace,
                "--type=merge",
                "-p",
                &patch,
            ],
            None,
        );
    }

    /// Create a Node object that looks like a healthy node to the scheduler:
    /// `cpu`, `memory` and `pods` (Kubernetes quantities, e.g. `"4"`, `"8Gi"`,
    /// `"110"`) as capacity and allocatable, and a `Ready=True` condition.
    ///
    /// No kubelet runs; the object is made in three API calls:
    /// 1. `kubectl create -f -` of the Node (labels `kubernetes.io/hostname`,
    ///    `kubernetes.io/os=linux`). Status in a create is ignored.
    /// 2. `kubectl patch --subresource=status --type=merge` to set
    ///    capacity, allocatable and conditions (status is only writable there).
    /// 3. `kubectl patch --type=merge` clearing `spec.taints`: the
    ///    TaintNodesByCondition admission plugin gives every new Node the
    ///    `node.kubernetes.io/not-ready:NoSchedule` taint, which normally the
    ///    node-lifecycle controller removes (disabled here, see [`Options`]).
    ///
    /// Panics on failure (it is meant for test setup).
    pub fn create_fake_node(&self, name: &str, cpu: &str, memory: &str, pods: &str) {
        let node = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
            },
        });
        self.kubectl_ok(&["create", "-f", "-"], Some(&node.to_string()));
        let now = utc_now_rfc3339();
        let resources = json!({ "cpu": cpu, "memory": memory, "pods": pods });
        let status = json!({
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "conditions": [{
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "fake node created by pg-testenv",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }],
            }
        });
        self.kubectl_ok(
            &[
                "patch",
                "node",
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                &status.to_string(),
            ],
            None,
        );
        self.kubectl_ok(
            &[
                "patch",
                "node",
                name,
                "--type=merge",
                "-p",
                r#"{"spec":{"taints":null}}"#,
            ],
            None,
        );
    }
}

/// Current UTC time as RFC 3339 (`2006-01-02T15:04:05Z`).
fn utc_now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_shape() {
        let s = utc_now_rfc3339();
        assert_eq!(s.len(), 20, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'), "{s}");
    }
}
