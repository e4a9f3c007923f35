//! `audit --cluster`: list every kind priorityguard reads, page by page, into objects.
//!
//! Pages are read as raw JSON straight into [`RawObject`] (never into k8s-openapi structs and
//! back), which keeps memory at one page per kind however large the cluster is, and makes the
//! cluster path use exactly the same mapping as `kubectl get -o json` dumps.

use crate::ClusterOptions;
use crate::connect::{self, Env, Resolved, Target};
use crate::error::{ClusterError, Failure, Request, request_error};
use crate::kinds::{ApiKind, LISTED};
use crate::progress::Progress;
use crate::retry;
use kube::api::ListParams;
use pg_model::{InputProblem, Object, Stats, WorkloadKind};
use pg_sources::Loaded;
use pg_sources::raw::RawObject;
use serde::Deserialize;
use std::sync::Arc;

/// Objects per list request, as kubectl uses: big enough for few round trips, small enough
/// that no single response strains the apiserver or us.
pub const PAGE_SIZE: u32 = 500;

/// Lists pods, the workload kinds, PriorityClasses, ResourceQuotas, Services and webhook
/// configurations (in `opts.namespace`, or all namespaces) and maps each item to a [`pg_model::Object`] with `location: None`: cluster
/// objects are identified by namespace/kind/name. A kind the server does not serve becomes a
/// skipped [`InputProblem`]; anything else that fails stops the load with a [`ClusterError`].
pub fn load(opts: &ClusterOptions) -> Result<Loaded, ClusterError> {
    load_keeping_labels(opts, None)
}

/// [`load`], keeping only the label keys in `keep_labels` (as `pg_sources::Options`
/// does for files; pass `Catalog::label_keys()`): on a big cluster labels are most of the
/// memory a pod takes. `None` keeps every label.
pub fn load_keeping_labels(
    opts: &ClusterOptions,
    keep_labels: Option<&[String]>,
) -> Result<Loaded, ClusterError> {
    let keep_labels: Option<Arc<[String]>> = keep_labels.map(Arc::from);
    runtime()?.block_on(async {
        let resolved = connect::resolve(opts, &Env::current()).await?;
        load_from(&resolved, opts, keep_labels).await
    })
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ClusterError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClusterError::Runtime {
            reason: e.to_string(),
        })
}

/// What one kind's listing produced.
struct KindList {
    objects: Vec<Object>,
    items: u64,
    bytes: u64,
    /// The server does not serve the kind (404).
    not_served: bool,
}

pub(crate) async fn load_from(
    resolved: &Resolved,
    opts: &ClusterOptions,
    keep_labels: Option<Arc<[String]>>,
) -> Result<Loaded, ClusterError> {
    let client = connect::client(resolved)?;
    let progress = Progress::new(opts.progress, &resolved.target.server);
    // Kinds are listed concurrently (one request in flight per kind); pages of one kind follow
    // each other, as the continue token demands.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, kind) in LISTED.iter().enumerate() {
        let client = client.clone();
        let target = resolved.target.clone();
        let namespace = opts.namespace.clone();
        let progress = progress.clone();
        let keep_labels = keep_labels.clone();
        tasks.spawn(async move {
            let ns = namespace.as_deref();
            let keep = keep_labels.as_deref();
            let r = list_kind(&client, &target, kind, ns, keep, &progress).await;
            (i, r)
        });
    }
    let mut results: Vec<Option<Result<KindList, ClusterError>>> =
        LISTED.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, r) = joined.map_err(|e| ClusterError::Runtime {
            reason: e.to_string(),
        })?;
        results[i] = Some(r);
    }
    progress.finish();

    let mut loaded = Loaded::default();
    let mut errors = Vec::new();
    for (kind, r) in LISTED.iter().zip(results) {
        match r {
            Some(Ok(list)) => absorb(&mut loaded, kind, list, &resolved.target),
            Some(Err(e)) => errors.push(e),
            None => {}
        }
    }
    match ClusterError::most_telling(errors) {
        Some(e) => Err(e),
        None => Ok(loaded),
    }
}

/// The note for a kind the server does not serve (404): skipped, not an error, since a
/// cluster without (say) CronJobs has no CronJob to audit.
pub(crate) fn not_served(kind: &ApiKind, target: &Target) -> InputProblem {
    InputProblem {
        source: format!("{target}: {}", kind.resource),
        message: format!(
            "the API server does not serve {} (404); skipped",
            kind.resource
        ),
        skipped: true,
    }
}

fn absorb(loaded: &mut Loaded, kind: &ApiKind, list: KindList, target: &Target) {
    if list.not_served {
        loaded.problems.push(not_served(kind, target));
    }
    let stats: &mut Stats = &mut loaded.stats;
    stats.documents += list.items;
    stats.bytes += list.bytes;
    for o in &list.objects {
        match o {
            Object::Workload(w) if w.kind == WorkloadKind::Pod => stats.pods += 1,
            Object::Workload(_) => stats.workloads += 1,
            Object::PriorityClass(_) => stats.priority_classes += 1,
            Object::ResourceQuota(_)
            | Object::QuotaConfig(_)
            | Object::Service(_)
            | Object::WebhookConfig(_) => {}
        }
    }
    loaded.objects.extend(list.objects);
}

/// A list response, reduced to what we read: unknown fields are skipped while parsing.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    metadata: PageMeta,
    #[serde(default)]
    items: Vec<RawObject>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PageMeta {
    #[serde(rename = "continue")]
    continue_token: Option<String>,
    remaining_item_count: Option<u64>,
}

/// One page of a list request (`limit` + `continue`), retried with backoff on 429/5xx.
pub(crate) async fn list_page(
    client: &kube::Client,
    target: &Target,
    url: &str,
    token: Option<String>,
) -> Result<String, retry::Failed> {
    let params = ListParams {
        limit: Some(PAGE_SIZE),
        continue_token: token,
        ..ListParams::default()
    };
    retry::send(retry::DEFAULT, target, || {
        let params = params.clone();
        let url = url.to_string();
        async move {
            let http = kube::core::Request::new(url)
                .list(&params)
                .map_err(kube::Error::BuildRequest)?;
            client.request_text(http).await
        }
    })
    .await
}

async fn list_kind(
    client: &kube::Client,
    target: &Target,
    kind: &ApiKind,
    namespace: Option<&str>,
    keep_labels: Option<&[String]>,
    progress: &Progress,
) -> Result<KindList, ClusterError> {
    let namespace = if kind.cluster_scoped { None } else { namespace };
    let url = kind.url_path(namespace);
    let req = Request {
        target,
        verb: "list",
        resource: kind.resource,
        namespace,
        cluster_scoped: kind.cluster_scoped,
    };
    let mut out = KindList {
        objects: Vec::new(),
        items: 0,
        bytes: 0,
        not_served: false,
    };
    let mut token: Option<String> = None;
    let mut restarted = false;
    let mut estimated = false;
    loop {
        let text = list_page(client, target, &url, token.clone()).await;
        let text = match text {
            Ok(t) => t,
            Err(failed) => match failed.failure {
                Failure::Fatal(e) => return Err(e),
                Failure::Retryable { status, message } => {
                    return Err(ClusterError::Unavailable {
                        target: target.clone(),
                        status,
                        verb: "list".to_string(),
                        resource: kind.resource.to_string(),
                        attempts: failed.attempts,
                        message,
                    });
                }
                // The continue token expired (etcd compacted past it, after ~5 minutes):
                // start this kind over once, as client-go's pager does.
                Failure::Api { status: 410, .. } if token.is_some() && !restarted => {
                    restarted = true;
                    token = None;
                    out.objects.clear();
                    out.items = 0;
                    continue;
                }
                Failure::Api { status: 404, .. } if token.is_none() => {
                    out.not_served = true;
                    return Ok(out);
                }
                Failure::Api { status, message } => {
                    return Err(request_error(&req, status, &message));
                }
            },
        };
        out.bytes += text.len() as u64;
        let page: Page = serde_json::from_str(&text).map_err(|e| ClusterError::Decode {
            target: target.clone(),
            resource: kind.resource.to_string(),
            reason: e.to_string(),
        })?;
        drop(text);
        let n = page.items.len() as u64;
        if token.is_none() {
            estimated = page.metadata.remaining_item_count.is_some();
            progress.page(n, page.metadata.remaining_item_count);
        } else {
            progress.later_page(n, estimated);
        }
        out.items += n;
        out.objects.extend(
            page.items
                .into_iter()
                .filter_map(|raw| kind.object(raw, keep_labels)),
        );
        match page.metadata.continue_token.filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_list_page_maps_through_raw_object() {
        let text = r#"{"kind":"PodList","apiVersion":"v1",
            "metadata":{"resourceVersion":"9","continue":"abc","remainingItemCount":501},
            "items":[{"metadata":{"name":"p","namespace":"ns","uid":"u1",
                "ownerReferences":[{"kind":"DaemonSet","name":"ds","controller":true}],
                "managedFields":[{"manager":"kubectl"}]},
              "spec":{"priorityClassName":"system-node-critical","priority":2000001000,
                "containers":[{"name":"c","image":"img"}]},
              "status":{"phase":"Pending"}}]}"#;
        let page: Page = serde_json::from_str(text).unwrap();
        assert_eq!(page.metadata.continue_token.as_deref(), Some("abc"));
        assert_eq!(page.metadata.remaining_item_count, Some(501));
        let raw = page.items.into_iter().next().unwrap();
        let pods = crate::kinds::workload(WorkloadKind::Pod);
        let Some(Object::Workload(w)) = pods.object(raw, None) else {
            panic!("a pod maps to a workload");
        };
        assert_eq!(w.kind, WorkloadKind::Pod);
        assert_eq!(w.namespace.as_deref(), Some("ns"));
        assert!(w.from_api);
        assert_eq!(w.owner.as_ref().map(|o| o.kind.as_str()), Some("DaemonSet"));
        assert_eq!(w.pod.priority, Some(2000001000));
        assert!(w.location.is_none());
    }
}
