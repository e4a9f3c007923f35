//! Upstream manifests in which one image runs several components (testdata/shared-images):
//! the catalog tells them apart by the container's command line.

mod common;
use common::*;

fn shared_image(file: &str) -> String {
    repo_root()
        .join("testdata/shared-images")
        .join(file)
        .to_string_lossy()
        .into_owned()
}

/// Longhorn's deploy/longhorn.yaml runs longhornio/longhorn-manager twice: the node agent
/// (`longhorn-manager -d daemon`) and a one-off Deployment that deploys the CSI driver
/// (`longhorn-manager -d deploy-driver`). Only the first is the catalog's Longhorn manager.
#[test]
fn one_image_two_components_are_told_apart_by_command_line() {
    let out = priorityguard(&["audit", "-o", "json", &shared_image("longhorn.yaml")]);
    let report = json(&out);
    assert_eq!(
        finding_keys(&report),
        vec![(
            "critical-class-too-weak".to_string(),
            "warning".to_string(),
            "longhorn-system/DaemonSet/longhorn-manager".to_string()
        )]
    );
    let components: Vec<(&str, &str)> = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["object"]["name"].as_str().unwrap(),
                c["component"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(components, vec![("longhorn-manager", "longhorn-manager")]);
}
