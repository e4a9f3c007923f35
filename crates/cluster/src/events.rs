//! `audit --cluster --events`: a Kubernetes Event on each offending object, so the finding
//! shows where operators already look (`kubectl describe`, `kubectl events`, event exporters)
//! and not only in the report.
//!
//! One Event per object and check, named after both (and the object's uid, so a recreated
//! object starts afresh). A later run finds it and counts the repeat in `series`, as
//! client-go's recorder does, instead of piling up one Event per run. The apiserver expires
//! Events after its `--event-ttl` (1 hour by default); a scheduled audit re-creates them.

use crate::ClusterOptions;
use crate::connect::{self, Env, Target};
use crate::error::{ClusterError, Failure, Request, request_error};
use crate::kinds::{self, ApiKind};
use crate::list::runtime;
use crate::retry;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use pg_model::{CheckId, Finding, ObjectRef, Severity};
use std::collections::BTreeMap;
use std::future::Future;

/// `reportingController` of our Events: `kubectl events` and event exporters show it as the
/// source.
pub const REPORTING_CONTROLLER: &str = "priorityguard";

/// The API caps an Event's note at 1 kB.
const NOTE_LIMIT: usize = 1024;

/// What happened to one finding's Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventResult {
    pub object: ObjectRef,
    pub check: CheckId,
    /// `Err` is one line (forbidden with the RBAC file to grant, object gone, rejected).
    pub outcome: Result<Recorded, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A new Event.
    Created,
    /// The Event of an earlier run, its `series.count` now this.
    Repeated(i32),
    /// The object is named by its pods' owner references but is not in the cluster (any
    /// more): there is nothing to attach an Event to.
    NotInCluster,
}

/// Records a `Warning` Event for every finding of severity warning or error (informational
/// `no-priority` findings would put an Event on every pod of an unclassed cluster). Per-object
/// failures are in the results; `Err` only when the server cannot be used at all.
pub fn record_events(
    opts: &ClusterOptions,
    findings: &[Finding],
) -> Result<Vec<EventResult>, ClusterError> {
    let instance = reporting_instance();
    runtime()?.block_on(async {
        let resolved = connect::resolve(opts, &Env::current()).await?;
        let client = connect::client(&resolved)?;
        let mut results = Vec::new();
        for f in findings.iter().filter(|f| f.severity >= Severity::Warning) {
            let outcome = record_one(&client, &resolved.target, f, &instance).await?;
            results.push(EventResult {
                object: f.object.clone(),
                check: f.check,
                outcome,
            });
        }
        Ok(results)
    })
}

/// The pod name when running in a pod (as kubectl's `--hostname-override` would be), else the
/// host name; events.k8s.io requires one.
fn reporting_instance() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "priorityguard".to_string());
    truncate(&host, 128).to_string()
}

/// The part of an object we need to point an Event at it.
struct Head {
    api_version: String,
    uid: String,
    resource_version: Option<String>,
}

async fn record_one(
    client: &kube::Client,
    target: &Target,
    f: &Finding,
    instance: &str,
) -> Result<Result<Recorded, String>, ClusterError> {
    let Some(kind) = kinds::by_kind(&f.object.kind) else {
        return Ok(Err(format!("no Events for a {}", f.object.kind)));
    };
    let object_ns = f
        .object
        .namespace
        .as_deref()
        .filter(|_| !kind.cluster_scoped);
    // The uid and apiVersion make `kubectl describe` list the Event; the GET also tells
    // whether an object named only by its pods' owner references really exists.
    let resource = kind.api_resource();
    let objects: Api<DynamicObject> = match object_ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let head = match call(target, || objects.get_metadata(&f.object.name)).await? {
        Ok(meta) => Head {
            api_version: resource.api_version.clone(),
            uid: meta.metadata.uid.unwrap_or_default(),
            resource_version: meta.metadata.resource_version,
        },
        Err((404, _)) => return Ok(Ok(Recorded::NotInCluster)),
        Err((status, message)) => {
            let req = Request {
                target,
                verb: "get",
                resource: kind.resource,
                namespace: object_ns,
                cluster_scoped: kind.cluster_scoped,
            };
            return Ok(Err(request_error(&req, status, &message).to_string()));
        }
    };
    // Events about cluster-scoped objects go to `default`, as client-go's recorder puts them.
    let event_ns = object_ns.unwrap_or("default");
    let event = new_event(f, &kind, &head, event_ns, instance);
    let name = event.metadata.name.clone().unwrap_or_default();
    let events: Api<Event> = Api::namespaced(client.clone(), event_ns);
    let req = Request {
        target,
        verb: "create",
        resource: "events.events.k8s.io",
        namespace: Some(event_ns),
        cluster_scoped: false,
    };
    let post = PostParams::default();
    let created = call(target, || events.create(&post, &event)).await?;
    match created {
        Ok(_) => return Ok(Ok(Recorded::Created)),
        Err((409, _)) => {}
        Err((status, message)) => return Ok(Err(event_error(&req, status, &message))),
    }
    // Seen before: count the repeat.
    let previous = match call(target, || events.get(&name)).await? {
        Ok(previous) => previous,
        Err((status, message)) => {
            let req = Request { verb: "get", ..req };
            return Ok(Err(event_error(&req, status, &message)));
        }
    };
    let count = previous.series.map_or(1, |s| s.count).saturating_add(1);
    let patch = serde_json::json!({
        "series": EventSeries { count, last_observed_time: MicroTime(Timestamp::now()) },
        "note": event.note,
    });
    let params = PatchParams::default();
    let patch = Patch::Merge(&patch);
    let patched = call(target, || events.patch(&name, &params, &patch)).await?;
    Ok(match patched {
        Ok(_) => Ok(Recorded::Repeated(count)),
        Err((status, message)) => Err(event_error(
            &Request {
                verb: "patch",
                ..req
            },
            status,
            &message,
        )),
    })
}

fn new_event(f: &Finding, kind: &ApiKind, head: &Head, namespace: &str, instance: &str) -> Event {
    let uid_prefix: String = head.uid.chars().take(8).collect();
    let suffix = format!(".{}.{uid_prefix}", f.check);
    let name = format!("{}{suffix}", truncate(&f.object.name, 253 - suffix.len()));
    let mut note = f.message.clone();
    if let Some(class) = &f.recommended_class {
        note.push_str(&format!(
            ". Set priorityClassName: {class} (priorityguard fix --cluster)"
        ));
    }
    Event {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "priorityguard".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(Timestamp::now())),
        action: Some("Audit".to_string()),
        reason: Some(reason(f.check.as_str())),
        type_: Some("Warning".to_string()),
        note: Some(truncate(&note, NOTE_LIMIT).to_string()),
        reporting_controller: Some(REPORTING_CONTROLLER.to_string()),
        reporting_instance: Some(instance.to_string()),
        regarding: Some(ObjectReference {
            api_version: Some(head.api_version.clone()),
            kind: Some(kind.kind.to_string()),
            namespace: f.object.namespace.clone().filter(|_| !kind.cluster_scoped),
            name: Some(f.object.name.clone()),
            uid: Some(head.uid.clone()),
            resource_version: head.resource_version.clone(),
            field_path: None,
        }),
        ..Event::default()
    }
}

/// `critical-without-priority` -> `CriticalWithoutPriority`, the CamelCase Kubernetes uses
/// for reasons (`FailedCreate`, `BackOff`).
fn reason(check: &str) -> String {
    check
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn event_error(req: &Request<'_>, status: u16, message: &str) -> String {
    match request_error(req, status, message) {
        ClusterError::Forbidden { who, .. } => format!(
            "forbidden (403): {who} may not {} events.events.k8s.io in namespace \"{}\"; grant deploy/cronjob/rbac.yaml's priorityguard-events ClusterRole (see docs/rbac.md)",
            req.verb,
            req.namespace.unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

/// One API call (429/5xx retried): `Ok(Err((status, message)))` when the server answered
/// about this request, `Err` when it cannot be used at all.
async fn call<T, F, Fut>(target: &Target, send: F) -> Result<Result<T, (u16, String)>, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let sent = retry::send(retry::DEFAULT, target, send).await;
    match sent {
        Ok(text) => Ok(Ok(text)),
        Err(failed) => match failed.failure {
            Failure::Fatal(e) => Err(e),
            Failure::Retryable { status, message } | Failure::Api { status, message } => {
                Ok(Err((status, message)))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_camel_case_check_ids() {
        assert_eq!(
            reason("critical-without-priority"),
            "CriticalWithoutPriority"
        );
        assert_eq!(reason("system-class-quota"), "SystemClassQuota");
    }

    #[test]
    fn names_and_notes_fit_the_api_limits() {
        let finding = Finding {
            check: CheckId::CriticalWithoutPriority,
            severity: Severity::Error,
            message: "é".repeat(600),
            object: ObjectRef {
                kind: "DaemonSet".to_string(),
                namespace: Some("kube-system".to_string()),
                name: "a".repeat(253),
            },
            object_inferred: false,
            location: None,
            component: None,
            current_class: None,
            recommended_class: Some("system-node-critical".to_string()),
            pods: Vec::new(),
            risk: None,
            cluster: None,
            managed_by: None,
        };
        let head = Head {
            api_version: "apps/v1".to_string(),
            uid: "0123456789abcdef".to_string(),
            resource_version: None,
        };
        let kind = kinds::by_kind("DaemonSet").unwrap();
        let event = new_event(&finding, &kind, &head, "kube-system", "host");
        let name = event.metadata.name.unwrap();
        assert_eq!(name.len(), 253);
        assert!(
            name.ends_with(".critical-without-priority.01234567"),
            "{name}"
        );
        let note = event.note.unwrap();
        assert!(
            note.len() <= NOTE_LIMIT && note.len() > NOTE_LIMIT - 2,
            "{}",
            note.len()
        );
        assert_eq!(
            event.regarding.unwrap().uid.as_deref(),
            Some("0123456789abcdef")
        );
    }
}
