//! The ClusterRoles in docs/rbac/ apply cleanly, the audit role is enough for `load()`, and
//! the fix role is what `apply()` needs; exec and token credentials work like kubectl's.

mod common;

use common::*;
use pg_cluster::PlannedPatch;
use pg_model::ObjectRef;
use pg_testenv::{Options, TestCluster};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

const AUDIT_ROLE: &str = "docs/rbac/audit-clusterrole.yaml";
const FIX_ROLE: &str = "docs/rbac/fix-clusterrole.yaml";

fn apply_file(cluster: &TestCluster, rel: &str, extra: &[&str]) -> String {
    let path = repo_file(rel);
    let mut args = vec!["apply", "-f", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    cluster.kubectl_ok(&args, None)
}

fn seed_workloads(cluster: &TestCluster) {
    cluster.kubectl_ok(&["create", "namespace", "apps"], None);
    cluster.kubectl_ok(
        &[
            "create",
            "deployment",
            "coredns",
            "-n",
            "apps",
            "--image=registry.k8s.io/coredns/coredns:v1.12.0",
        ],
        None,
    );
    cluster.kubectl_ok(&["apply", "-f", "-"], Some(&pod_yaml("apps", "bare", None)));
    // A Service and a fail-closed pod webhook (last: it refuses pod creates from then on), so
    // the role must also grant what the webhook signal lists.
    let webhook = data("cni-webhook.yaml");
    cluster.kubectl_ok(&["apply", "-f", webhook.to_str().unwrap()], None);
}

fn coredns_patch() -> PlannedPatch {
    let (mut patches, _) = pg_cluster::plan(&[pg_model::Finding {
        check: pg_model::CheckId::CriticalWithoutPriority,
        severity: pg_model::Severity::Error,
        message: String::new(),
        object: ObjectRef {
            kind: "Deployment".to_string(),
            namespace: Some("apps".to_string()),
            name: "coredns".to_string(),
        },
        object_inferred: false,
        location: None,
        component: None,
        current_class: None,
        recommended_class: Some("system-cluster-critical".to_string()),
        pods: Vec::new(),
        risk: None,
        cluster: None,
        managed_by: None,
    }]);
    patches.remove(0)
}

#[test]
fn cluster_rbac_docs_apply_cleanly_and_are_sufficient() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    // Both files pass the server's validation and admission as they are.
    let out = apply_file(&cluster, AUDIT_ROLE, &["--dry-run=server"]);
    assert!(
        out.contains(
            "clusterrole.rbac.authorization.k8s.io/priorityguard-audit created (server dry run)"
        ),
        "{out}"
    );
    let out = apply_file(&cluster, FIX_ROLE, &["--dry-run=server"]);
    assert!(
        out.contains(
            "clusterrole.rbac.authorization.k8s.io/priorityguard-fix created (server dry run)"
        ),
        "{out}"
    );
    apply_file(&cluster, AUDIT_ROLE, &[]);
    apply_file(&cluster, FIX_ROLE, &[]);
    seed_workloads(&cluster);

    // An auditor (in the group the doc's binding names) reads everything the admin reads.
    let auditor = cluster.kubeconfig_for_user("alice", &["priorityguard-auditors"]);
    let as_auditor = pg_cluster::load(&opts_for(&auditor)).expect("audit role suffices");
    let as_admin = pg_cluster::load(&opts_for(cluster.kubeconfig_path())).unwrap();
    assert_eq!(as_auditor.objects, as_admin.objects);
    assert_eq!(as_auditor.stats, as_admin.stats);
    assert!(as_auditor.stats.pods >= 1 && as_auditor.stats.workloads >= 1);
    let has = |what: fn(&pg_model::Object) -> bool| as_auditor.objects.iter().any(what);
    assert!(has(
        |o| matches!(o, pg_model::Object::Service(s) if s.name == "net-injector")
    ));
    assert!(has(
        |o| matches!(o, pg_model::Object::WebhookConfig(w) if w.name == "net-injector")
    ));

    // ...but may not patch: one line per object, pointing at the fix role.
    let patch = coredns_patch();
    let results =
        pg_cluster::apply(&opts_for(&auditor), std::slice::from_ref(&patch), DRY_RUN).unwrap();
    let err = results[0].outcome.as_ref().unwrap_err();
    eprintln!("message: {err}");
    assert_eq!(
        err,
        "server-side dry run: forbidden (403): User \"alice\" may not patch deployments.apps in namespace \"apps\"; grant docs/rbac/fix-clusterrole.yaml (see docs/rbac.md)"
    );

    // A fixer (bound to both roles by the fix file) can audit and patch.
    let fixer = cluster.kubeconfig_for_user("fred", &["priorityguard-fixers"]);
    assert!(pg_cluster::load(&opts_for(&fixer)).is_ok());
    let results =
        pg_cluster::apply(&opts_for(&fixer), std::slice::from_ref(&patch), APPLY).unwrap();
    assert_eq!(results[0].outcome, Ok(()));
    let class = cluster.kubectl_ok(
        &[
            "get",
            "deployment",
            "-n",
            "apps",
            "coredns",
            "-o",
            "jsonpath={.spec.template.spec.priorityClassName}",
        ],
        None,
    );
    assert_eq!(class, "system-cluster-critical");
}

/// A kubeconfig whose user gets a service-account token from an exec plugin (as cloud
/// providers' `aws eks get-token`, `gke-gcloud-auth-plugin`, `kubelogin` do), or holds it.
fn token_kubeconfigs(cluster: &TestCluster, token: &str) -> (PathBuf, PathBuf) {
    let dir = cluster.work_dir();
    let plugin = dir.join("token-plugin.sh");
    let credential = serde_json::json!({
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token},
    });
    std::fs::write(
        &plugin,
        format!("#!/bin/sh\ncat <<'EOF'\n{credential}\nEOF\n"),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let write = |file: &str, user: serde_json::Value| {
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "testenv", "cluster": {
                "server": cluster.server_url(),
                "certificate-authority": dir.join("pki/ca.crt"),
            }}],
            "users": [{"name": "sa", "user": user}],
            "contexts": [{"name": "sa", "context": {"cluster": "testenv", "user": "sa"}}],
            "current-context": "sa",
        });
        let path = dir.join(file);
        std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
        path
    };
    let exec = write(
        "exec.json",
        serde_json::json!({"exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": plugin,
            "interactiveMode": "Never",
        }}),
    );
    let plain = write("token.json", serde_json::json!({"token": token}));
    (exec, plain)
}

#[test]
fn cluster_service_account_token_via_exec_plugin_and_kubeconfig() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    apply_file(&cluster, AUDIT_ROLE, &[]);
    seed_workloads(&cluster);
    cluster.kubectl_ok(&["create", "namespace", "pg"], None);
    cluster.kubectl_ok(&["create", "serviceaccount", "auditor", "-n", "pg"], None);
    cluster.kubectl_ok(
        &[
            "create",
            "clusterrolebinding",
            "pg-auditor",
            "--clusterrole=priorityguard-audit",
            "--serviceaccount=pg:auditor",
        ],
        None,
    );
    let token = cluster.kubectl_ok(&["create", "token", "auditor", "-n", "pg"], None);
    let (exec, plain) = token_kubeconfigs(&cluster, token.trim());
    let admin = pg_cluster::load(&opts_for(cluster.kubeconfig_path())).unwrap();
    for kubeconfig in [exec, plain] {
        let loaded = pg_cluster::load(&opts_for(&kubeconfig))
            .unwrap_or_else(|e| panic!("{}: {e}", kubeconfig.display()));
        assert_eq!(loaded.objects, admin.objects);
    }
    // Without the binding the same token is forbidden, and the message names the account.
    cluster.kubectl_ok(&["delete", "clusterrolebinding", "pg-auditor"], None);
    let (exec, _) = token_kubeconfigs(&cluster, token.trim());
    let text = pg_cluster::load(&opts_for(&exec)).unwrap_err().to_string();
    assert!(
        text.starts_with("forbidden (403): User \"system:serviceaccount:pg:auditor\" may not list"),
        "{text}"
    );
}

#[test]
fn cluster_failing_exec_plugin_is_a_credentials_error() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    let dir = cluster.work_dir();
    let plugin = dir.join("broken-plugin.sh");
    std::fs::write(
        &plugin,
        "#!/bin/sh\necho 'token expired, run: login' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testenv", "cluster": {
            "server": cluster.server_url(),
            "certificate-authority": dir.join("pki/ca.crt"),
        }}],
        "users": [{"name": "sso", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": plugin,
            "interactiveMode": "Never",
        }}}],
        "contexts": [{"name": "sso", "context": {"cluster": "testenv", "user": "sso"}}],
        "current-context": "sso",
    });
    let path = dir.join("broken-exec.json");
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    let err = pg_cluster::load(&opts_for(&path)).unwrap_err();
    let text = err.to_string();
    eprintln!("message: {text}");
    assert!(
        matches!(err, pg_cluster::ClusterError::Credentials { .. }),
        "{text}"
    );
    assert!(
        text.starts_with("getting credentials for the API server https://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "failed: the exec credential plugin failed (exit status: 1): token expired, run: login"
        ),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
}
