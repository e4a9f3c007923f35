//! `fix --cluster`: which live objects to patch, and with what.
//!
//! Only a controller's pod template can take a new class: a pod's `priorityClassName` and
//! `spec.priority` are fixed when the Priority admission plugin admits it, so existing pods
//! change only when their controller replaces them.

use pg_model::{Finding, ManagedBy, ObjectRef, WorkloadKind};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashSet;

/// One JSON merge patch of a workload's pod template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedPatch {
    pub object: ObjectRef,
    /// The PriorityClass the template will name.
    pub class: String,
    /// `{"spec":{"template":{"spec":{"priorityClassName":...}}}}` (CronJob:
    /// `spec.jobTemplate.spec.template.spec`): what changes, for JSON output and the apply
    /// configuration.
    pub json_merge_patch: Value,
    /// True when the change restarts running pods: Deployments, DaemonSets and StatefulSets
    /// roll their pods to the new template (unless their update strategy is OnDelete).
    /// ReplicaSets, ReplicationControllers and CronJobs only use it for pods (runs) they create
    /// from now on.
    pub will_roll: bool,
    /// The Helm release or GitOps object that applies the workload (from the finding): its
    /// next upgrade or sync can undo the patch, so the class belongs in its source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<Box<ManagedBy>>,
}

impl PlannedPatch {
    /// The server-side apply configuration: the object's identity and the one field of the
    /// merge patch, so the field manager owns `priorityClassName` and nothing else. What
    /// `--apply` sends, and what the printed command applies.
    pub fn apply_configuration(&self) -> Value {
        let api_version = WorkloadKind::from_kind(&self.object.kind)
            .map(|k| crate::kinds::workload(k).api_resource().api_version)
            .unwrap_or_default();
        let mut body = json!({
            "apiVersion": api_version,
            "kind": self.object.kind,
            "metadata": {
                "name": self.object.name,
                "namespace": self.object.namespace.as_deref().unwrap_or("default"),
            },
        });
        if let (Some(body), Some(patch)) = (body.as_object_mut(), self.json_merge_patch.as_object())
        {
            body.extend(patch.clone());
        }
        body
    }

    /// The same change as a kubectl command, by server-side apply with priorityguard's field
    /// manager as `--apply` makes it (for the printed plan).
    pub fn kubectl_command(&self) -> String {
        format!(
            "echo '{}' | kubectl apply --server-side --field-manager={} -f -",
            self.apply_configuration(),
            crate::FIELD_MANAGER
        )
    }
}

/// One patch per workload that a finding recommends a class for (the first, most severe
/// finding wins when several do). Bare pods and Jobs are refused with the reason, since the
/// API does not let their pod spec change; findings about other objects (PriorityClasses,
/// ResourceQuotas) or without a recommendation are left out.
pub fn plan(findings: &[Finding]) -> (Vec<PlannedPatch>, Vec<(ObjectRef, String)>) {
    let mut patches = Vec::new();
    let mut refused = Vec::new();
    let mut seen: HashSet<&ObjectRef> = HashSet::new();
    for f in findings.iter().filter(|f| pg_checks::is_fixable(f.check)) {
        let Some(class) = f.recommended_class.as_deref().filter(|c| !c.is_empty()) else {
            continue;
        };
        if f.current_class.as_deref() == Some(class) {
            continue;
        }
        let Some(kind) = WorkloadKind::from_kind(&f.object.kind) else {
            continue;
        };
        if !seen.insert(&f.object) {
            continue;
        }
        match patch_for(kind, class) {
            Ok((json_merge_patch, will_roll)) => patches.push(PlannedPatch {
                object: f.object.clone(),
                class: class.to_string(),
                json_merge_patch,
                will_roll,
                managed_by: f.managed_by.clone(),
            }),
            Err(why) => refused.push((f.object.clone(), why)),
        }
    }
    (patches, refused)
}

fn patch_for(kind: WorkloadKind, class: &str) -> Result<(Value, bool), String> {
    let pod_spec = json!({ "priorityClassName": class });
    match kind {
        WorkloadKind::Pod => Err(format!(
            "bare pod: a running pod's priority cannot be changed (the API rejects edits of \
             priorityClassName and priority is fixed at admission); recreate it with \
             spec.priorityClassName: {class}, or better run it under a controller (a static \
             pod: edit its manifest on the node)"
        )),
        WorkloadKind::Job => Err(format!(
            "Job: its pod template is immutable, so it cannot be patched; delete and recreate \
             the Job with spec.template.spec.priorityClassName: {class} (or fix the CronJob or \
             manifest that creates it)"
        )),
        WorkloadKind::CronJob => Ok((
            json!({ "spec": { "jobTemplate": { "spec": { "template": { "spec": pod_spec } } } } }),
            false,
        )),
        WorkloadKind::Deployment | WorkloadKind::DaemonSet | WorkloadKind::StatefulSet => Ok((
            json!({ "spec": { "template": { "spec": pod_spec } } }),
            true,
        )),
        WorkloadKind::ReplicaSet | WorkloadKind::ReplicationController => Ok((
            json!({ "spec": { "template": { "spec": pod_spec } } }),
            false,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_model::{CheckId, Severity};

    fn finding(kind: &str, name: &str, recommended: Option<&str>) -> Finding {
        Finding {
            check: CheckId::CriticalWithoutPriority,
            severity: Severity::Error,
            message: String::new(),
            object: ObjectRef {
                kind: kind.to_string(),
                namespace: Some("kube-system".to_string()),
                name: name.to_string(),
            },
            object_inferred: false,
            location: None,
            component: None,
            current_class: None,
            recommended_class: recommended.map(str::to_string),
            pods: Vec::new(),
            risk: None,
            cluster: None,
            managed_by: None,
        }
    }

    #[test]
    fn daemonset_template_gets_the_class_and_rolls() {
        let (patches, refused) = plan(&[finding(
            "DaemonSet",
            "kube-multus-ds",
            Some("system-node-critical"),
        )]);
        assert!(refused.is_empty());
        assert_eq!(patches.len(), 1);
        let p = &patches[0];
        assert_eq!(
            p.json_merge_patch,
            json!({"spec":{"template":{"spec":{"priorityClassName":"system-node-critical"}}}})
        );
        assert!(p.will_roll);
        assert_eq!(
            p.kubectl_command(),
            r#"echo '{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"kube-multus-ds","namespace":"kube-system"},"spec":{"template":{"spec":{"priorityClassName":"system-node-critical"}}}}' | kubectl apply --server-side --field-manager=priorityguard -f -"#
        );
    }

    #[test]
    fn cronjob_patches_the_job_template() {
        let (patches, _) = plan(&[finding("CronJob", "backup", Some("batch-high"))]);
        assert_eq!(
            patches[0].json_merge_patch,
            json!({"spec":{"jobTemplate":{"spec":{"template":{"spec":{"priorityClassName":"batch-high"}}}}}})
        );
        assert!(!patches[0].will_roll);
    }

    #[test]
    fn bare_pods_and_jobs_are_refused_with_a_reason() {
        let (patches, refused) = plan(&[
            finding("Pod", "lonely", Some("system-node-critical")),
            finding("Job", "once", Some("system-cluster-critical")),
        ]);
        assert!(patches.is_empty());
        assert_eq!(refused.len(), 2);
        assert!(refused[0].1.contains("recreate"), "{}", refused[0].1);
        assert!(refused[1].1.contains("immutable"), "{}", refused[1].1);
    }

    #[test]
    fn one_patch_per_object_and_nothing_without_a_recommendation() {
        let mut too_weak = finding("Deployment", "coredns", Some("system-cluster-critical"));
        too_weak.check = CheckId::CriticalClassTooWeak;
        let mut done = finding("Deployment", "metrics", Some("system-cluster-critical"));
        done.current_class = Some("system-cluster-critical".to_string());
        let (patches, refused) = plan(&[
            finding("Deployment", "coredns", Some("system-cluster-critical")),
            too_weak,
            finding("Deployment", "web", None),
            finding("PriorityClass", "high", Some("x")),
            done,
        ]);
        assert!(refused.is_empty());
        assert_eq!(patches.len(), 1);
        assert_eq!(patches[0].object.name, "coredns");
    }
}
