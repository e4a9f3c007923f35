//! The webhook signal on a live cluster (issue 13): `load()` lists Services and webhook
//! configurations, so a Deployment that a fail-closed pod webhook calls through its Service is
//! recognised as a cluster service, with the webhook named, though no catalog entry knows it.

mod common;

use common::*;
use pg_catalog::{Catalog, Policy};
use pg_checks::{Config, audit};
use pg_model::{CheckId, Object, Severity};
use pg_testenv::Options;

#[test]
fn cluster_cni_webhook_deployment_is_flagged_live_with_its_webhook() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    let webhook = data("cni-webhook.yaml");
    cluster.kubectl_ok(&["apply", "-f", webhook.to_str().unwrap()], None);

    let loaded = pg_cluster::load(&opts_for(cluster.kubeconfig_path())).expect("load");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let config = loaded.objects.iter().find_map(|o| match o {
        Object::WebhookConfig(w) if w.name == "net-injector" => Some(w),
        _ => None,
    });
    let config = config.expect("the MutatingWebhookConfiguration is listed");
    assert_eq!(config.kind, "MutatingWebhookConfiguration");
    assert_eq!(config.webhooks[0].operations, ["CREATE"]);
    assert!(loaded.objects.iter().any(|o| matches!(
        o,
        Object::Service(s) if s.name == "net-injector" && s.namespace.as_deref() == Some("net-system")
    )));

    let result = audit(
        &loaded.objects,
        &Catalog::builtin(),
        &Config::new(false, &Policy::default()),
    );
    let finding = result
        .findings
        .iter()
        .find(|f| f.object.kind == "Deployment" && f.object.name == "net-injector")
        .unwrap_or_else(|| panic!("net-injector not flagged: {:#?}", result.findings));
    assert_eq!(finding.check, CheckId::CriticalWithoutPriority);
    assert_eq!(finding.severity, Severity::Error);
    assert_eq!(
        finding.recommended_class.as_deref(),
        Some("system-cluster-critical")
    );
    let component = finding.component.as_ref().unwrap();
    assert!(component.by_signal(), "{component:?}");
    for part in [
        "MutatingWebhookConfiguration net-injector",
        "webhook net-injector.net.acme.invalid",
        "fails closed on CREATE of pods",
        "Service net-system/net-injector",
    ] {
        assert!(component.matched_by.contains(part), "{part}: {component:?}");
    }

    // Without the webhook the same Deployment is an ordinary one.
    cluster.kubectl_ok(
        &["delete", "mutatingwebhookconfiguration", "net-injector"],
        None,
    );
    let loaded = pg_cluster::load(&opts_for(cluster.kubeconfig_path())).expect("load");
    let result = audit(
        &loaded.objects,
        &Catalog::builtin(),
        &Config::new(false, &Policy::default()),
    );
    assert!(
        !result
            .findings
            .iter()
            .any(|f| f.object.name == "net-injector"),
        "{:#?}",
        result.findings
    );
}
