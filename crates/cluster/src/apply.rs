//! `fix --cluster --apply`: server-side dry run of every patch, then the real patches.
//!
//! Each patch is a server-side apply of the one field (`priorityClassName` in the pod
//! template) with the field manager `priorityguard`, the kubectl-native way: `managedFields`
//! shows who set the class, and a class another manager owns (Helm, Argo CD, Flux, kubectl)
//! is a conflict that names it instead of a silent change it would undo at its next sync;
//! `force_conflicts` takes the field anyway. The dry run (`dryRun=All`) goes through
//! admission, validation and conflict detection exactly like the real request, so a missing
//! PriorityClass, an RBAC gap, an admission policy or an owner shows up before anything
//! changes.

use crate::ClusterOptions;
use crate::connect::{self, Env, Resolved, Target};
use crate::error::{ClusterError, Failure, Request, request_error};
use crate::kinds;
use crate::list::runtime;
use crate::plan::PlannedPatch;
use crate::retry;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::Status;
use pg_model::{ObjectRef, WorkloadKind};
use serde_json::json;

/// The field manager recorded in `managedFields` for our patches.
pub const FIELD_MANAGER: &str = "priorityguard";

/// What happened to one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyResult {
    pub object: ObjectRef,
    /// `Err` is one line: forbidden (with the RBAC doc), not found, conflict, rejected.
    pub outcome: Result<(), String>,
}

/// Dry-runs every patch on the server; then, unless `dry_run_only`, applies each patch whose
/// dry run passed (the others keep their dry-run error). Per-object failures are reported in
/// the results; only problems that make the server unusable (unreachable, TLS, credentials,
/// kubeconfig) return `Err`.
pub fn apply(
    opts: &ClusterOptions,
    patches: &[PlannedPatch],
    mode: ApplyMode,
) -> Result<Vec<ApplyResult>, ClusterError> {
    runtime()?.block_on(async {
        let resolved = connect::resolve(opts, &Env::current()).await?;
        apply_all(&resolved, patches, mode).await
    })
}

/// How far [`apply`] goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyMode {
    /// Stop after the server-side dry run.
    pub dry_run_only: bool,
    /// Take `priorityClassName` from the manager that owns it (`--force-conflicts`).
    pub force_conflicts: bool,
}

async fn apply_all(
    resolved: &Resolved,
    patches: &[PlannedPatch],
    mode: ApplyMode,
) -> Result<Vec<ApplyResult>, ClusterError> {
    let client = connect::client(resolved)?;
    let target = &resolved.target;
    let force = mode.force_conflicts;
    let mut results = Vec::with_capacity(patches.len());
    for p in patches {
        let outcome = patch_one(&client, target, p, true, force)
            .await?
            .map_err(|e| format!("server-side dry run: {e}"));
        results.push(ApplyResult {
            object: p.object.clone(),
            outcome,
        });
    }
    if mode.dry_run_only {
        return Ok(results);
    }
    for (result, p) in results.iter_mut().zip(patches) {
        if result.outcome.is_ok() {
            result.outcome = patch_one(&client, target, p, false, force).await?;
        }
    }
    Ok(results)
}

/// `Ok(Err(line))` for a per-object failure, `Err` when the server cannot be used at all.
async fn patch_one(
    client: &kube::Client,
    target: &Target,
    p: &PlannedPatch,
    dry_run: bool,
    force: bool,
) -> Result<Result<(), String>, ClusterError> {
    let Some(kind) = WorkloadKind::from_kind(&p.object.kind).filter(|k| *k != WorkloadKind::Pod)
    else {
        return Ok(Err(format!("cannot patch a {}", p.object.kind)));
    };
    let api = kinds::workload(kind);
    let namespace = p.object.namespace.as_deref().unwrap_or("default");
    let resource = api.api_resource();
    let objects: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let body = p.apply_configuration();
    let params = PatchParams {
        dry_run,
        force,
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    let sent = retry::send(retry::DEFAULT, target, || {
        let (objects, params, body) = (&objects, &params, &body);
        async move {
            // Apply creates what does not exist: the object's resourceVersion makes it an
            // update of this very version (404 when it is gone, 409 when it changed since).
            let current = objects.get_metadata(&p.object.name).await?;
            let mut body = body.clone();
            body["metadata"]["resourceVersion"] = json!(current.metadata.resource_version);
            objects
                .patch(&p.object.name, params, &Patch::Apply(&body))
                .await
        }
    })
    .await;
    let failed = match sent {
        Ok(_) => return Ok(Ok(())),
        Err(failed) => failed,
    };
    let req = Request {
        target,
        verb: "patch",
        resource: api.resource,
        namespace: Some(namespace),
        cluster_scoped: false,
    };
    let line = match failed.failure {
        Failure::Fatal(e) => return Err(e),
        Failure::Retryable { status, message } => format!(
            "the API server kept answering {status} ({} attempts): {message}",
            failed.attempts
        ),
        Failure::Api {
            status: 403,
            message,
        } => {
            let who = match request_error(&req, 403, &message) {
                ClusterError::Forbidden { who, .. } => who,
                _ => "this user".to_string(),
            };
            format!(
                "forbidden (403): {who} may not patch {} in namespace \"{namespace}\"; grant docs/rbac/fix-clusterrole.yaml (see docs/rbac.md)",
                api.resource
            )
        }
        Failure::Api { status: 404, .. } => format!(
            "not found (404): {} {namespace}/{} does not exist (any more)",
            p.object.kind, p.object.name
        ),
        Failure::Api {
            status: 409,
            message,
        } => {
            // The owners named by the conflict's status causes.
            let owners = match &failed.error {
                kube::Error::Api(status) => conflicts(status),
                _ => Vec::new(),
            };
            if owners.is_empty() {
                format!("conflict (409): {message}; re-run the audit and try again")
            } else {
                owned_by_another(&owners)
            }
        }
        Failure::Api {
            status: 422,
            message,
        } => format!("rejected (422): {message}"),
        Failure::Api { status, message } => format!("failed ({status}): {message}"),
    };
    Ok(Err(line))
}

/// A field manager that owns a field the apply would change.
#[derive(Debug, PartialEq, Eq)]
struct Owner {
    manager: String,
    field: String,
}

/// The owners of a server-side apply conflict: the status causes of reason
/// `FieldManagerConflict` (message `conflict with "helm" using apps/v1`, field
/// `.spec.template.spec.priorityClassName`).
fn conflicts(status: &Status) -> Vec<Owner> {
    let Some(details) = &status.details else {
        return Vec::new();
    };
    details
        .causes
        .iter()
        .filter(|c| c.reason == "FieldManagerConflict")
        .filter_map(|c| {
            let manager = c.message.split('"').nth(1)?;
            Some(Owner {
                manager: manager.to_string(),
                field: c.field.clone(),
            })
        })
        .collect()
}

/// The tool behind a field manager's name, and what it does to a field changed behind its
/// back.
fn tool_of(manager: &str) -> Option<(&'static str, &'static str)> {
    match manager {
        "helm" => Some(("Helm", "at its next `helm upgrade`")),
        m if m.starts_with("argocd") => Some(("Argo CD", "at its next sync")),
        "kustomize-controller" | "helm-controller" => Some(("Flux", "at its next reconciliation")),
        m if m.starts_with("kubectl") => {
            Some(("kubectl", "at the next `kubectl apply` of its manifest"))
        }
        _ => None,
    }
}

/// One line for a conflict: who owns the field, what it will do, and the two ways out.
fn owned_by_another(owners: &[Owner]) -> String {
    let named: Vec<String> = owners
        .iter()
        .map(|o| match tool_of(&o.manager) {
            Some((tool, when)) => format!(
                "\"{}\" ({tool}) owns {} and will put its value back {when}",
                o.manager, o.field
            ),
            None => format!("\"{}\" owns {}", o.manager, o.field),
        })
        .collect();
    format!(
        "conflict (409): {}; change the class where that manager takes it from (chart values, \
         Git), or re-run with --force-conflicts to take the field",
        named.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 409 as the API server sends it, with one cause.
    fn status(reason: &str, message: &str, field: &str) -> Status {
        serde_json::from_value(json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 409,
            "reason": "Conflict", "message": "Apply failed with 1 conflict",
            "details": {"causes": [{"reason": reason, "message": message, "field": field}]},
        }))
        .expect("a Status")
    }

    #[test]
    fn a_conflict_names_its_owner_and_the_way_out() {
        let owners = conflicts(&status(
            "FieldManagerConflict",
            "conflict with \"helm\" using apps/v1",
            ".spec.template.spec.priorityClassName",
        ));
        assert_eq!(
            owners,
            vec![Owner {
                manager: "helm".into(),
                field: ".spec.template.spec.priorityClassName".into()
            }]
        );
        let line = owned_by_another(&owners);
        assert!(
            line.contains("\"helm\" (Helm) owns .spec.template.spec.priorityClassName"),
            "{line}"
        );
        assert!(
            line.contains("helm upgrade") && line.contains("--force-conflicts"),
            "{line}"
        );
    }

    #[test]
    fn other_causes_are_not_owners() {
        let owners = conflicts(&status("FieldValueInvalid", "\"x\"", "spec"));
        assert!(owners.is_empty());
        assert_eq!(tool_of("argocd-controller").map(|t| t.0), Some("Argo CD"));
        assert_eq!(tool_of("kustomize-controller").map(|t| t.0), Some("Flux"));
        assert_eq!(
            tool_of("kubectl-client-side-apply").map(|t| t.0),
            Some("kubectl")
        );
        assert_eq!(tool_of("my-operator"), None);
    }
}
