//! `simulate --cluster`: the objects a simulation reads — nodes, pods, PriorityClasses,
//! PodDisruptionBudgets, and pod metrics when metrics-server serves them — listed page by page
//! (all namespaces) and handed over as the raw JSON of each page, so pg-sources' snapshot reader
//! parses them exactly as it parses a `kubectl get -o json` snapshot.

use crate::ClusterOptions;
use crate::connect::{self, Env, Target};
use crate::error::{ClusterError, Failure, Request, request_error};
use crate::list::{list_page, runtime};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::Resource;
use pg_model::InputProblem;
use serde::Deserialize;

/// One resource a snapshot lists.
struct SnapshotKind {
    /// `kind` of the items (list items carry none of their own).
    kind: &'static str,
    resource: &'static str,
    cluster_scoped: bool,
    url: fn() -> String,
    /// Optional kinds (metrics) that the server does not serve, or the user may not list,
    /// are skipped with a note instead of failing the snapshot.
    optional: bool,
}

const KINDS: [SnapshotKind; 5] = [
    SnapshotKind {
        kind: "PriorityClass",
        resource: "priorityclasses.scheduling.k8s.io",
        cluster_scoped: true,
        url: || PriorityClass::url_path(&(), None),
        optional: false,
    },
    SnapshotKind {
        kind: "Node",
        resource: "nodes",
        cluster_scoped: true,
        url: || Node::url_path(&(), None),
        optional: false,
    },
    SnapshotKind {
        kind: "Pod",
        resource: "pods",
        cluster_scoped: false,
        url: || Pod::url_path(&(), None),
        optional: false,
    },
    SnapshotKind {
        kind: "PodDisruptionBudget",
        resource: "poddisruptionbudgets.policy",
        cluster_scoped: false,
        url: || PodDisruptionBudget::url_path(&(), None),
        optional: false,
    },
    // metrics.k8s.io has no k8s-openapi type; this is the path metrics-server serves.
    SnapshotKind {
        kind: "PodMetrics",
        resource: "pods.metrics.k8s.io",
        cluster_scoped: false,
        url: || "/apis/metrics.k8s.io/v1beta1/pods".to_string(),
        optional: true,
    },
];

#[derive(Default, Deserialize)]
struct PageMeta {
    #[serde(default)]
    metadata: Continue,
}

#[derive(Default, Deserialize)]
struct Continue {
    #[serde(default, rename = "continue")]
    token: Option<String>,
}

/// Lists every snapshot kind and calls `on_page(kind, page_json)` for each page, in order:
/// PriorityClasses, Nodes, Pods, PodDisruptionBudgets, PodMetrics. An error from `on_page` is
/// returned as [`ClusterError::Decode`]. Returns notes about optional kinds that were skipped.
pub fn list_snapshot(
    opts: &ClusterOptions,
    mut on_page: impl FnMut(&str, &str) -> Result<(), String>,
) -> Result<Vec<InputProblem>, ClusterError> {
    runtime()?.block_on(async {
        let resolved = connect::resolve(opts, &Env::current()).await?;
        let client = connect::client(&resolved)?;
        let mut notes = Vec::new();
        for kind in &KINDS {
            if let Err(e) = list_kind(&client, &resolved.target, kind, &mut on_page).await {
                match e {
                    ClusterError::Forbidden { .. } | ClusterError::Api { .. } if kind.optional => {
                        notes.push(InputProblem {
                            source: format!("{}: {}", resolved.target, kind.resource),
                            message: format!("not available, so usage is not measured ({e})"),
                            skipped: true,
                        });
                    }
                    e => return Err(e),
                }
            }
        }
        Ok(notes)
    })
}

async fn list_kind(
    client: &kube::Client,
    target: &Target,
    kind: &SnapshotKind,
    on_page: &mut impl FnMut(&str, &str) -> Result<(), String>,
) -> Result<(), ClusterError> {
    let url = (kind.url)();
    let req = Request {
        target,
        verb: "list",
        resource: kind.resource,
        namespace: None,
        cluster_scoped: kind.cluster_scoped,
    };
    let mut token: Option<String> = None;
    loop {
        let text = list_page(client, target, &url, token.clone())
            .await
            .map_err(|failed| match failed.failure {
                Failure::Fatal(e) => e,
                Failure::Retryable { status, message } => ClusterError::Unavailable {
                    target: target.clone(),
                    status,
                    verb: "list".to_string(),
                    resource: kind.resource.to_string(),
                    attempts: failed.attempts,
                    message,
                },
                Failure::Api { status, message } => request_error(&req, status, &message),
            })?;
        let decode = |reason: String| ClusterError::Decode {
            target: target.clone(),
            resource: kind.resource.to_string(),
            reason,
        };
        on_page(kind.kind, &text).map_err(decode)?;
        let meta: PageMeta = serde_json::from_str(&text).map_err(|e| decode(e.to_string()))?;
        match meta.metadata.token.filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next),
            None => return Ok(()),
        }
    }
}
