//! What users see when the cluster cannot be used: each failure is one line that names the
//! server and context and says what to do.

mod common;

use common::*;
use pg_cluster::ClusterError;
use pg_testenv::{Options, TestCluster};
use std::path::PathBuf;

/// A kubeconfig for the test server with the given user entry (and cluster extras).
fn kubeconfig_with(
    cluster: &TestCluster,
    file: &str,
    user: serde_json::Value,
    cluster_extra: serde_json::Value,
) -> PathBuf {
    let mut c = serde_json::json!({
        "server": cluster.server_url(),
        "certificate-authority": cluster.work_dir().join("pki/ca.crt"),
    });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), cluster_extra.as_object()) {
        c.extend(extra.clone());
    }
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testenv", "cluster": c}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "testenv", "user": "u"}}],
        "current-context": "ctx",
    });
    let path = cluster.work_dir().join(file);
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    path
}

fn load_err(path: &std::path::Path) -> ClusterError {
    let err = pg_cluster::load(&opts_for(path)).expect_err("load must fail");
    let text = err.to_string();
    // Shown in the test log: these are the messages users get.
    eprintln!("message: {text}");
    assert!(!text.contains('\n'), "one line: {text}");
    assert!(!text.contains("Status {"), "no Debug dumps: {text}");
    err
}

#[test]
fn cluster_user_without_rights_gets_forbidden_pointing_to_rbac_doc() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    let nobody = cluster.kubeconfig_for_user("nobody", &[]);
    let err = load_err(&nobody);
    let text = err.to_string();
    assert!(matches!(err, ClusterError::Forbidden { .. }), "{text}");
    assert!(
        text.starts_with("forbidden (403): User \"nobody\" may not list "),
        "{text}"
    );
    assert!(text.contains("docs/rbac.md"), "{text}");
    assert!(text.contains(&cluster.server_url()), "{text}");
    assert!(text.contains("context \"testenv\""), "{text}");
    // Every denied resource at once, so one RBAC change fixes them all.
    for r in [
        "pods",
        "daemonsets.apps",
        "cronjobs.batch",
        "priorityclasses.scheduling.k8s.io",
    ] {
        assert!(text.contains(r), "{r} missing from: {text}");
    }
    assert!(text.contains("in all namespaces"), "{text}");
    assert!(
        text.contains(
            "priorityclasses.scheduling.k8s.io, \
             validatingwebhookconfigurations.admissionregistration.k8s.io, \
             mutatingwebhookconfigurations.admissionregistration.k8s.io cluster-wide"
        ),
        "{text}"
    );
    assert!(text.contains("pods, services in all namespaces"), "{text}");

    // -n names the namespace.
    let mut opts = opts_for(&nobody);
    opts.namespace = Some("team-a".to_string());
    let text = pg_cluster::load(&opts).unwrap_err().to_string();
    assert!(text.contains("in namespace \"team-a\""), "{text}");
}

#[test]
fn cluster_stopped_apiserver_is_unreachable() {
    pg_testenv::require_cluster!();
    let mut cluster = start(Options::default());
    let kubeconfig = cluster.kubeconfig_path().to_path_buf();
    cluster.stop_apiserver();
    let err = load_err(&kubeconfig);
    let text = err.to_string();
    assert!(matches!(err, ClusterError::Unreachable { .. }), "{text}");
    assert_eq!(
        text,
        format!(
            "cannot reach the API server {} (context \"testenv\"): connection refused; check that the cluster is up and that the kubeconfig's server address is right",
            cluster.server_url()
        )
    );
    // fix --apply stops the same way: an Err, not one failure per object.
    let patches = pg_cluster::plan(&[multus_finding()]).0;
    assert_eq!(patches.len(), 1);
    let err = pg_cluster::apply(&opts_for(&kubeconfig), &patches, APPLY).unwrap_err();
    assert!(matches!(err, ClusterError::Unreachable { .. }), "{err}");
}

fn multus_finding() -> pg_model::Finding {
    pg_model::Finding {
        check: pg_model::CheckId::CriticalWithoutPriority,
        severity: pg_model::Severity::Error,
        message: String::new(),
        object: pg_model::ObjectRef {
            kind: "DaemonSet".to_string(),
            namespace: Some("kube-system".to_string()),
            name: "kube-multus-ds".to_string(),
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
    }
}

#[test]
fn cluster_invalid_token_is_a_credentials_error() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    let bogus = kubeconfig_with(
        &cluster,
        "bogus-token.json",
        serde_json::json!({"token": "not-a-valid-token"}),
        serde_json::json!({}),
    );
    let err = load_err(&bogus);
    let text = err.to_string();
    assert!(matches!(err, ClusterError::Unauthorized { .. }), "{text}");
    assert!(text.contains("401 Unauthorized"), "{text}");
    assert!(text.contains("expired or invalid"), "{text}");
    assert!(text.contains("context \"ctx\""), "{text}");
}

#[test]
fn cluster_certificate_mismatch_is_a_tls_error() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    // The serving certificate does not cover this name: verification must fail.
    let wrong_name = kubeconfig_with(
        &cluster,
        "wrong-name.json",
        serde_json::json!({"token": "x"}),
        serde_json::json!({"tls-server-name": "not-the-apiserver.invalid"}),
    );
    let err = load_err(&wrong_name);
    let text = err.to_string();
    assert!(matches!(err, ClusterError::Tls { .. }), "{text}");
    assert!(
        text.starts_with("TLS with the API server https://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("certificate"), "{text}");
    // A CA that did not sign the server's certificate (a leaf certificate as the CA).
    let wrong_ca = kubeconfig_with(
        &cluster,
        "wrong-ca.json",
        serde_json::json!({"token": "x"}),
        serde_json::json!({"certificate-authority": cluster.work_dir().join("pki/user-admin.crt")}),
    );
    let err = load_err(&wrong_ca);
    assert!(matches!(err, ClusterError::Tls { .. }), "{err}");
}

#[test]
fn cluster_unknown_context_and_missing_kubeconfig() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    let mut opts = opts_for(cluster.kubeconfig_path());
    opts.context = Some("prod".to_string());
    let text = pg_cluster::load(&opts).unwrap_err().to_string();
    assert_eq!(
        text,
        format!(
            "context \"prod\" is not in {} (contexts: testenv); pick one with --context",
            cluster.kubeconfig_path().display()
        )
    );
    let missing = cluster.work_dir().join("no-such-kubeconfig");
    let text = pg_cluster::load(&opts_for(&missing))
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with(&format!("cannot use kubeconfig {}: ", missing.display())),
        "{text}"
    );
    // --context picks the context (here the only one, named explicitly).
    opts.context = Some("testenv".to_string());
    assert_eq!(
        pg_cluster::target(&opts).unwrap().to_string(),
        format!("{} (context \"testenv\")", cluster.server_url())
    );
    assert!(pg_cluster::load(&opts).is_ok());
}
