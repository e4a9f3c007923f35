//! The resources priorityguard reads and patches, with their API paths, and the mapping of
//! their objects to model objects that lists and watches share.
//!
//! Paths come from k8s-openapi's resource metadata through kube's `Resource` trait, so group,
//! version and plural are never typed by hand.

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, ReplicationController, ResourceQuota, Service};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::Resource;
use kube::core::ApiResource;
use pg_model::{Object, WorkloadKind};
use pg_sources::raw::{RawObject, Scalar};

/// One resource type as the API serves it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ApiKind {
    /// `kind` as objects name it (list items carry none, so it is set from here).
    pub kind: &'static str,
    /// `pods`, `daemonsets.apps`: how RBAC and kubectl name the resource.
    pub resource: &'static str,
    pub cluster_scoped: bool,
    url_path: fn(&(), Option<&str>) -> String,
    api_resource: fn(&()) -> ApiResource,
}

impl ApiKind {
    const fn of<K: Resource<DynamicType = ()>>(
        kind: &'static str,
        resource: &'static str,
        cluster_scoped: bool,
    ) -> ApiKind {
        ApiKind {
            kind,
            resource,
            cluster_scoped,
            url_path: K::url_path,
            api_resource: ApiResource::erase::<K>,
        }
    }

    /// Group, version and plural for kube's dynamic `Api` (which the watches use).
    pub fn api_resource(&self) -> ApiResource {
        (self.api_resource)(&())
    }

    /// The one mapping from an API object of this kind to a model object, for lists and
    /// watches alike: list items carry no `kind` of their own (the URL says what they are),
    /// and cluster objects have no file position (they are named by namespace/kind/name).
    pub fn object(&self, mut raw: RawObject, keep_labels: Option<&[String]>) -> Option<Object> {
        raw.kind = Some(Scalar::Str(self.kind.to_string()));
        raw.into_object(keep_labels).map(without_location)
    }

    /// The collection URL: all namespaces for `None`, cluster-wide for cluster-scoped kinds.
    pub fn url_path(&self, namespace: Option<&str>) -> String {
        let ns = if self.cluster_scoped { None } else { namespace };
        (self.url_path)(&(), ns)
    }
}

/// Everything `load` lists (and `serve` watches), in the order objects are returned. Services
/// and webhook configurations are for the webhook signal: a Deployment that a fail-closed pod
/// webhook's Service selects is on the path of every pod write.
pub(crate) const LISTED: [ApiKind; 13] = [
    ApiKind::of::<PriorityClass>("PriorityClass", "priorityclasses.scheduling.k8s.io", true),
    ApiKind::of::<ResourceQuota>("ResourceQuota", "resourcequotas", false),
    ApiKind::of::<DaemonSet>("DaemonSet", "daemonsets.apps", false),
    ApiKind::of::<Deployment>("Deployment", "deployments.apps", false),
    ApiKind::of::<StatefulSet>("StatefulSet", "statefulsets.apps", false),
    ApiKind::of::<ReplicaSet>("ReplicaSet", "replicasets.apps", false),
    ApiKind::of::<ReplicationController>("ReplicationController", "replicationcontrollers", false),
    ApiKind::of::<CronJob>("CronJob", "cronjobs.batch", false),
    ApiKind::of::<Job>("Job", "jobs.batch", false),
    ApiKind::of::<Pod>("Pod", "pods", false),
    ApiKind::of::<Service>("Service", "services", false),
    ApiKind::of::<ValidatingWebhookConfiguration>(
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        true,
    ),
    ApiKind::of::<MutatingWebhookConfiguration>(
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        true,
    ),
];

/// The API kind of an object kind as findings name it (`DaemonSet`, `PriorityClass`).
pub(crate) fn by_kind(kind: &str) -> Option<ApiKind> {
    LISTED.iter().find(|k| k.kind == kind).copied()
}

/// Cluster objects have no file position: they are named by namespace/kind/name.
fn without_location(mut object: Object) -> Object {
    match &mut object {
        Object::Workload(w) => {
            w.location = None;
            if w.pod.positions.is_some() {
                std::sync::Arc::make_mut(&mut w.pod).positions = None;
            }
        }
        Object::PriorityClass(c) => c.location = None,
        Object::ResourceQuota(q) => q.location = None,
        Object::QuotaConfig(q) => q.location = None,
        Object::Service(s) => s.location = None,
        Object::WebhookConfig(w) => w.location = None,
    }
    object
}

/// The API kind of a workload kind.
pub(crate) fn workload(kind: WorkloadKind) -> ApiKind {
    let name = kind.as_str();
    *LISTED
        .iter()
        .find(|k| k.kind == name)
        .expect("every workload kind is listed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_the_api() {
        let ds = workload(WorkloadKind::DaemonSet);
        assert_eq!(
            ds.url_path(Some("kube-system")),
            "/apis/apps/v1/namespaces/kube-system/daemonsets"
        );
        assert_eq!(workload(WorkloadKind::Pod).url_path(None), "/api/v1/pods");
        assert_eq!(
            workload(WorkloadKind::CronJob).url_path(Some("a")),
            "/apis/batch/v1/namespaces/a/cronjobs"
        );
        assert_eq!(
            LISTED[0].url_path(Some("ignored")),
            "/apis/scheduling.k8s.io/v1/priorityclasses"
        );
        for k in WorkloadKind::ALL {
            assert_eq!(workload(k).kind, k.as_str());
        }
    }
}
