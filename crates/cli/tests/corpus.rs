//! Every upstream manifest in testdata/upstream gives exactly the expectation of
//! testdata/upstream/EXPECTATIONS.md.

mod common;
use common::*;

/// `(check, severity, namespace/Kind/name)`
type Expected = (&'static str, &'static str, &'static str);

/// (file, findings expected, catalogued components expected to be protected)
fn expectations() -> Vec<(&'static str, Vec<Expected>, Vec<&'static str>)> {
    let multus = vec![(
        "critical-without-priority",
        "error",
        "kube-system/DaemonSet/kube-multus-ds",
    )];
    vec![
        ("multus-cni/multus-daemonset.yml", multus.clone(), vec![]),
        (
            "multus-cni/multus-daemonset-thick.yml",
            multus.clone(),
            vec![],
        ),
        ("multus-cni/multus-daemonset-crio.yml", multus, vec![]),
        (
            "kubespray/before-fix/multus-daemonset.yml.j2",
            vec![(
                "critical-without-priority",
                "error",
                "kube-system/DaemonSet/kube-multus-{{ container_manager }}-{{ image_arch }}",
            )],
            vec![],
        ),
        (
            "kubespray/after-fix/multus-daemonset.yml.j2",
            vec![],
            vec!["multus"],
        ),
        ("kubespray/calico-node.yml.j2", vec![], vec!["calico-node"]),
        (
            "kubespray/cinder-csi-nodeplugin.yml.j2",
            vec![(
                "critical-without-priority",
                "error",
                "kube-system/DaemonSet/csi-cinder-nodeplugin",
            )],
            vec![],
        ),
        (
            "kubespray/coredns-deployment.yml.j2",
            vec![],
            vec!["coredns"],
        ),
        ("flannel/kube-flannel.yml", vec![], vec!["flannel"]),
        (
            "flannel/chart/templates/daemonset.yaml",
            vec![],
            vec!["flannel"],
        ),
        (
            "kube-router/kubeadm-kuberouter.yaml",
            vec![],
            vec!["kube-router"],
        ),
        (
            "metallb/metallb-native.yaml",
            vec![
                (
                    "critical-without-priority",
                    "error",
                    "metallb-system/Deployment/controller",
                ),
                (
                    "critical-without-priority",
                    "error",
                    "metallb-system/DaemonSet/speaker",
                ),
            ],
            vec![],
        ),
        (
            "calico/calico.yaml",
            vec![],
            vec!["calico-node", "calico-kube-controllers"],
        ),
    ]
}

#[test]
fn every_upstream_file_gives_its_expectation() {
    for (file, want, protected) in expectations() {
        let out = priorityguard(&["audit", "-o", "json", &upstream(file)]);
        let report = json(&out);
        let mut got = finding_keys(&report);
        got.sort();
        let mut want: Vec<(String, String, String)> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
        want.sort();
        assert_eq!(got, want, "{file}");
        let expected_exit = if want.is_empty() { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(expected_exit), "{file}");
        assert!(
            report["problems"].as_array().unwrap().is_empty(),
            "{file}: {report}"
        );
        let components = report["components"].as_array().unwrap();
        for id in &protected {
            assert!(
                components
                    .iter()
                    .any(|c| c["component"]["id"] == *id && c["protected"] == true),
                "{file}: {id} should be recognised and protected: {components:?}"
            );
        }
        // Every error finding recommends the class the corpus expects for its role.
        for f in report["findings"].as_array().unwrap() {
            let role = f["component"]["role"].as_str().unwrap();
            let class = f["recommended_class"].as_str().unwrap();
            let want = if role == "node-agent" {
                "system-node-critical"
            } else {
                "system-cluster-critical"
            };
            assert_eq!(class, want, "{file}: {f}");
        }
    }
}

#[test]
fn finding_points_at_the_pod_spec_line() {
    let out = priorityguard(&[
        "audit",
        "-o",
        "json",
        &upstream("kubespray/before-fix/multus-daemonset.yml.j2"),
    ]);
    let report = json(&out);
    let loc = &report["findings"][0]["location"];
    // `    spec:` of the pod template is line 24; its first key (`hostNetwork`) line 25, column 7.
    assert_eq!(
        (loc["line"].as_u64(), loc["column"].as_u64()),
        (Some(25), Some(7))
    );
}

#[test]
fn templated_class_is_reported_with_its_default() {
    let dir = tempfile::tempdir().unwrap();
    let role = dir.path().join("roles/multus");
    std::fs::create_dir_all(role.join("templates")).unwrap();
    std::fs::create_dir_all(role.join("defaults")).unwrap();
    let template = std::fs::read_to_string(upstream("kubespray/after-fix/multus-daemonset.yml.j2"))
        .unwrap()
        .replace(
            "priorityClassName: system-node-critical",
            "priorityClassName: {{ multus_priority_class }}",
        );
    std::fs::write(role.join("templates/multus.yml.j2"), template).unwrap();
    std::fs::write(
        role.join("defaults/main.yml"),
        "multus_priority_class: system-cluster-critical\n",
    )
    .unwrap();
    let out = priorityguard(&["audit", "-o", "json", &dir.path().display().to_string()]);
    let report = json(&out);
    let keys = finding_keys(&report);
    assert_eq!(keys.len(), 1, "{report}");
    assert_eq!(keys[0].0, "critical-class-too-weak");
    let f = &report["findings"][0];
    assert_eq!(
        f["current_class"],
        "{{ multus_priority_class }} (default system-cluster-critical)"
    );
    let c = &report["components"][0]["class"];
    assert_eq!(c["kind"], "templated");
    assert_eq!(c["default"], "system-cluster-critical");
}

#[test]
fn whole_corpus_table_snapshot() {
    let out = priorityguard(&["audit", "testdata/upstream"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}
