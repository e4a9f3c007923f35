//! `fix --cluster --apply`: server-side dry run of every patch, then the real patches.
//!
//! The dry run (`dryRun=All`) goes through admission and validation exactly like the real
//! request, so a missing PriorityClass, an RBAC gap or an admission policy shows up before
//! anything changes. Patches carry the field manager `priorityguard`, so `managedFields` shows
//! who set the class.

use crate::ClusterOptions;
use crate::connect::{self, Env, Resolved, Target};
use crate::error::{ClusterError, Failure, Request, request_error};
use crate::kinds;
use crate::list::runtime;
use crate::plan::PlannedPatch;
use crate::retry;
use kube::api::{Patch, PatchParams};
use pg_model::{ObjectRef, WorkloadKind};

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
    dry_run_only: bool,
) -> Result<Vec<ApplyResult>, ClusterError> {
    let resolved = connect::resolve(opts, &Env::current())?;
    runtime()?.block_on(apply_all(&resolved, patches, dry_run_only))
}

async fn apply_all(
    resolved: &Resolved,
    patches: &[PlannedPatch],
    dry_run_only: bool,
) -> Result<Vec<ApplyResult>, ClusterError> {
    let client = connect::client(resolved)?;
    let target = &resolved.target;
    let mut results = Vec::with_capacity(patches.len());
    for p in patches {
        let outcome = patch_one(&client, target, p, true)
            .await?
            .map_err(|e| format!("server-side dry run: {e}"));
        results.push(ApplyResult {
            object: p.object.clone(),
            outcome,
        });
    }
    if dry_run_only {
        return Ok(results);
    }
    for (result, p) in results.iter_mut().zip(patches) {
        if result.outcome.is_ok() {
            result.outcome = patch_one(&client, target, p, false).await?;
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
) -> Result<Result<(), String>, ClusterError> {
    let Some(kind) = WorkloadKind::from_kind(&p.object.kind).filter(|k| *k != WorkloadKind::Pod)
    else {
        return Ok(Err(format!("cannot patch a {}", p.object.kind)));
    };
    let api = kinds::workload(kind);
    let namespace = p.object.namespace.as_deref().unwrap_or("default");
    let url = api.url_path(Some(namespace));
    let params = PatchParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    let sent = retry::send(retry::DEFAULT, target, || {
        let http = kube::core::Request::new(url.clone()).patch(
            &p.object.name,
            &params,
            &Patch::Merge(&p.json_merge_patch),
        );
        async move {
            let http = http.map_err(kube::Error::BuildRequest)?;
            client.request_text(http).await
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
        } => format!("conflict (409): {message}; re-run the audit and try again"),
        Failure::Api {
            status: 422,
            message,
        } => format!("rejected (422): {message}"),
        Failure::Api { status, message } => format!("failed ({status}): {message}"),
    };
    Ok(Err(line))
}
