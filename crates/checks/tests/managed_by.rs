//! Findings say which tool deploys their workload, read from the workload's own labels and
//! annotations; the pods folded into a finding never decide it.

use pg_catalog::{Catalog, Policy};
use pg_checks::{Config, audit};
use pg_model::{CheckId, Deployer};
use pg_sources::{Input, Options, load};
use std::path::Path;

#[test]
fn findings_name_the_release_or_kustomization_that_deploys_their_workload() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/managed_by");
    let loaded = load(&[Input::Path(dir)], &Options::default());
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let result = audit(
        &loaded.objects,
        &Catalog::builtin(),
        &Config::new(false, &Policy::default()),
    );
    let managed = |name: &str| {
        let f = result
            .findings
            .iter()
            .find(|f| f.check == CheckId::CriticalWithoutPriority && f.object.name == name)
            .unwrap_or_else(|| panic!("no finding about {name}: {:#?}", result.findings));
        f.managed_by.as_deref().map(|m| (m.deployer, m.to_string()))
    };
    let (deployer, line) = managed("kube-multus-ds").expect("a Helm release");
    assert_eq!(deployer, Deployer::HelmRelease);
    assert!(
        line.starts_with("Helm release kube-system/multus: "),
        "{line}"
    );
    let multus = result
        .findings
        .iter()
        .find(|f| f.object.name == "kube-multus-ds")
        .unwrap();
    assert_eq!(multus.pods.len(), 1, "the pod is folded into its DaemonSet");
    let (deployer, line) = managed("coredns").expect("a Flux Kustomization");
    assert_eq!(deployer, Deployer::FluxKustomization);
    assert!(
        line.starts_with("Flux Kustomization flux-system/infra: "),
        "{line}"
    );
    assert_eq!(managed("metrics-server"), None);
}
