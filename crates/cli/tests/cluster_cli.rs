//! The binary against a real kube-apiserver (pg-testenv): `audit --cluster` answers the seed's
//! question exactly, `fix --cluster --apply --yes` fixes Multus for real, errors are one line.

mod common;
use common::*;
use pg_testenv::{Options, TestCluster};
use std::collections::BTreeSet;

fn seed_pipeline(cluster: &TestCluster) -> BTreeSet<String> {
    shell_lines(&format!(
        "'{}' --kubeconfig='{}' get pods -A -o json | jq -r {}",
        cluster.bin_dir().join("kubectl").display(),
        cluster.kubeconfig_path().display(),
        shell_quote(SEED_JQ)
    ))
}

fn pod(ns: &str, name: &str, class: Option<&str>) -> String {
    pod_with_image(ns, name, class, "registry.invalid/pause:3.10")
}

fn pod_with_image(ns: &str, name: &str, class: Option<&str>, image: &str) -> String {
    let class = class
        .map(|c| format!("  priorityClassName: {c}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{class}  containers:\n  - name: main\n    image: {image}\n"
    )
}

#[test]
fn cluster_audit_fix_and_reaudit_through_the_binary() {
    pg_testenv::require_cluster!();
    let cluster = TestCluster::start(Options {
        controller_manager: true,
        ..Options::default()
    })
    .unwrap();
    cluster.create_fake_node("node-1", "4", "8Gi", "110");
    cluster.kubectl_ok(
        &["apply", "-f", &upstream("multus-cni/multus-daemonset.yml")],
        None,
    );
    cluster.kubectl_ok(&["create", "namespace", "shop"], None);
    for (ns, name, class) in [
        ("shop", "no-class", None),
        ("shop", "critical", Some("system-cluster-critical")),
        ("default", "bare", None),
    ] {
        cluster.kubectl_ok(&["apply", "-f", "-"], Some(&pod(ns, name, class)));
    }
    // A critical component run as a bare pod: flagged, but a running pod's class cannot be
    // changed, so `fix --cluster` must refuse it by name and leave it alone.
    cluster.kubectl_ok(
        &["apply", "-f", "-"],
        Some(&pod_with_image(
            "kube-system",
            "kube-proxy-debug",
            None,
            "registry.k8s.io/kube-proxy:v1.36.3",
        )),
    );
    let kc = cluster.kubeconfig_path().display().to_string();
    // Wait for the DaemonSet controller to create the Multus pod on the fake node.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while !cluster
        .kubectl_ok(&["get", "pods", "-n", "kube-system", "-o", "name"], None)
        .contains("kube-multus-ds-")
    {
        assert!(std::time::Instant::now() < deadline, "no Multus pod");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }

    // `classes --cluster`: the built-in classes with the cluster's real values and their users.
    let classes = priorityguard(&["classes", "--cluster", "--kubeconfig", &kc, "--json"]);
    let rows = json(&classes);
    let row = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("system-cluster-critical")["value"], 2000000000);
    assert_eq!(row("system-cluster-critical")["pods"], 1, "{rows}");
    assert_eq!(row("system-node-critical")["value"], 2000001000);
    assert_eq!(
        row("system-node-critical")["defined"],
        true,
        "listed from the API server"
    );
    let out = priorityguard(&[
        "audit",
        "--cluster",
        "--kubeconfig",
        &kc,
        "--all",
        "-o",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(no_priority_pods(&report), seed_pipeline(&cluster));
    let multus = report["findings"].as_array().unwrap().iter().find(|f| {
        f["check"] == "critical-without-priority" && f["object"]["name"] == "kube-multus-ds"
    });
    let multus = multus.unwrap_or_else(|| panic!("{report}"));
    assert_eq!(multus["object"]["kind"], "DaemonSet");
    assert_eq!(
        multus["pods"].as_array().unwrap().len(),
        1,
        "the Multus pod is folded in"
    );

    // Without a terminal and without --yes nothing is patched.
    let refused = priorityguard(&["fix", "--cluster", "--kubeconfig", &kc, "--apply"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    let fixed = priorityguard(&["fix", "--cluster", "--kubeconfig", &kc, "--apply", "--yes"]);
    let stdout = String::from_utf8_lossy(&fixed.stdout);
    assert_eq!(
        fixed.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    assert!(stdout.contains("kube-system/DaemonSet/kube-multus-ds: priorityClassName system-node-critical; its pods will be replaced"), "{stdout}");
    assert!(
        stdout.contains("# not patched: kube-system/Pod/kube-proxy-debug: bare pod: "),
        "{stdout}"
    );
    // The ordinary bare pod has no finding, so it is not mentioned at all.
    assert!(!stdout.contains("Pod/bare"), "{stdout}");
    let debug_class = cluster.kubectl_ok(
        &[
            "get",
            "pod",
            "kube-proxy-debug",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.spec.priorityClassName}",
        ],
        None,
    );
    assert_eq!(debug_class, "", "the bare pod is untouched");
    let class = cluster.kubectl_ok(
        &[
            "get",
            "ds",
            "kube-multus-ds",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.spec.template.spec.priorityClassName}",
        ],
        None,
    );
    assert_eq!(class, "system-node-critical");

    let again = priorityguard(&["audit", "--cluster", "--kubeconfig", &kc, "-o", "json"]);
    let keys = finding_keys(&json(&again));
    assert!(
        !keys
            .iter()
            .any(|k| k.2 == "kube-system/DaemonSet/kube-multus-ds"),
        "{keys:?}"
    );
}

#[test]
fn cluster_errors_are_one_line_and_exit_2() {
    pg_testenv::require_cluster!();
    let mut cluster = TestCluster::start(Options::default()).unwrap();
    let nobody = cluster.kubeconfig_for_user("nobody", &[]);
    let out = priorityguard(&[
        "audit",
        "--cluster",
        "--kubeconfig",
        &nobody.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("forbidden") && stderr.contains("docs/rbac.md"),
        "{stderr}"
    );

    let kc = cluster.kubeconfig_path().display().to_string();
    cluster.stop_apiserver();
    let out = priorityguard(&["audit", "--cluster", "--kubeconfig", &kc]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot reach the API server"), "{stderr}");
}

/// A Deployment of a critical image, with `metadata` labels and annotations as YAML lines.
fn deployment(name: &str, image: &str, metadata: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: kube-system\n{metadata}spec:\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: main\n        image: {image}\n"
    )
}

#[test]
fn cluster_audit_names_the_helm_release_or_flux_kustomization_behind_a_finding() {
    pg_testenv::require_cluster!();
    let cluster = TestCluster::start(Options::default()).unwrap();
    let helm = "  labels:\n    app.kubernetes.io/managed-by: Helm\n  annotations:\n    meta.helm.sh/release-name: coredns\n    meta.helm.sh/release-namespace: kube-system\n";
    let flux = "  labels:\n    kustomize.toolkit.fluxcd.io/name: infra\n    kustomize.toolkit.fluxcd.io/namespace: flux-system\n";
    for (name, image, metadata) in [
        ("coredns", "registry.k8s.io/coredns/coredns:v1.11.1", helm),
        (
            "metrics-server",
            "registry.k8s.io/metrics-server/metrics-server:v0.7.1",
            flux,
        ),
        (
            "kube-state-metrics",
            "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.12.0",
            "",
        ),
    ] {
        cluster.kubectl_ok(
            &["apply", "-f", "-"],
            Some(&deployment(name, image, metadata)),
        );
    }
    let kc = cluster.kubeconfig_path().display().to_string();
    // `--all`: the last one is no critical component, only `no-priority` flags it.
    let out = priorityguard(&[
        "audit",
        "--cluster",
        "--kubeconfig",
        &kc,
        "--all",
        "-o",
        "json",
    ]);
    let report = json(&out);
    let managed_by = |name: &str| {
        let finding = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["object"]["name"] == name)
            .unwrap_or_else(|| panic!("no finding about {name}: {report}"));
        finding["managed_by"].clone()
    };
    assert_eq!(
        managed_by("coredns"),
        serde_json::json!({"tool": "helm", "kind": "release", "namespace": "kube-system",
            "name": "coredns", "fix": "set the class in the chart's values, then helm upgrade"})
    );
    let flux = managed_by("metrics-server");
    assert_eq!(
        (
            &flux["tool"],
            &flux["kind"],
            &flux["namespace"],
            &flux["name"]
        ),
        (
            &serde_json::json!("flux"),
            &serde_json::json!("Kustomization"),
            &serde_json::json!("flux-system"),
            &serde_json::json!("infra")
        ),
        "{report}"
    );
    assert!(managed_by("kube-state-metrics").is_null(), "{report}");

    // The table and `fix --cluster` say it too, next to the finding and the patch.
    let table = priorityguard(&["audit", "--cluster", "--kubeconfig", &kc]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("managed by Helm release kube-system/coredns: set the class"),
        "{table}"
    );
    let plan = priorityguard(&["fix", "--cluster", "--kubeconfig", &kc]);
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.contains(
            "# managed by Flux Kustomization flux-system/infra: change the class in its Git source"
        ),
        "{plan}"
    );

    // Each printed command is the server-side apply `--apply` makes: run as printed, it sets
    // the class and priorityguard owns the field.
    let line = plan
        .lines()
        .find(|l| l.contains(r#""name":"metrics-server""#))
        .unwrap_or_else(|| panic!("no command for metrics-server: {plan}"));
    let configuration = line
        .strip_prefix("echo '")
        .and_then(|l| {
            l.strip_suffix("' | kubectl apply --server-side --field-manager=priorityguard -f -")
        })
        .unwrap_or_else(|| panic!("not a server-side apply command: {line}"));
    cluster.kubectl_ok(
        &[
            "apply",
            "--server-side",
            "--field-manager=priorityguard",
            "-f",
            "-",
        ],
        Some(configuration),
    );
    let live = cluster.kubectl_json(&[
        "get",
        "deployment",
        "metrics-server",
        "-n",
        "kube-system",
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    assert_eq!(
        live["spec"]["template"]["spec"]["priorityClassName"], "system-cluster-critical",
        "{live}"
    );
    let owners: Vec<&serde_json::Value> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["manager"] == "priorityguard" && m["operation"] == "Apply")
        .collect();
    assert_eq!(owners.len(), 1, "{live}");
    assert!(
        owners[0]["fieldsV1"]
            .to_string()
            .contains("f:priorityClassName"),
        "{live}"
    );
}
