//! The whole Kubespray repository, audited at its root as a maintainer runs it: no input
//! error, each finding once, the critical components of its roles flagged, and `fix --write`
//! on a copy leaves an audit with nothing to report.
//!
//! The tree is `shared/corpus/trees/kubespray-46dbdd3` beside the repository (kubernetes-sigs/
//! kubespray at 46dbdd3994b32640bcd806b0097f50e8fdf1d514, see that corpus's README). Its copy
//! holds each symbolic link as a file containing the link's target; the copy made here turns
//! them back into links (`git ls-tree` mode 120000 at that commit), so that the walk meets
//! `extra_playbooks/roles -> ../roles` as a checkout has it.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Symbolic links in Kubespray at 46dbdd3 (`git ls-tree -r HEAD`, mode 120000).
const LINKS: [&str; 13] = [
    "contrib/terraform/aws/sample-inventory/group_vars",
    "contrib/terraform/exoscale/sample-inventory/group_vars",
    "contrib/terraform/group_vars",
    "contrib/terraform/hetzner/sample-inventory/group_vars",
    "contrib/terraform/openstack/hosts",
    "contrib/terraform/openstack/sample-inventory/group_vars",
    "contrib/terraform/upcloud/sample-inventory/group_vars",
    "contrib/terraform/vsphere/sample-inventory/group_vars",
    "extra_playbooks/inventory",
    "extra_playbooks/roles",
    "inventory/local/group_vars",
    "library/kube.py",
    "roles/container-engine/docker/vars/openeuler.yml",
];

/// What a Kubespray maintainer must hear about: (object, template under roles/kubernetes-apps).
const MUST_FLAG: [(&str, &str); 9] = [
    (
        "kube-system/DaemonSet/csi-cinder-nodeplugin",
        "csi_driver/cinder/templates/cinder-csi-nodeplugin.yml.j2",
    ),
    (
        "kube-system/Deployment/csi-cinder-controllerplugin",
        "csi_driver/cinder/templates/cinder-csi-controllerplugin.yml.j2",
    ),
    (
        "kube-system/DaemonSet/openstack-cloud-controller-manager",
        "external_cloud_controller/openstack/templates/external-openstack-cloud-controller-manager-ds.yml.j2",
    ),
    (
        "kube-system/DaemonSet/hcloud-cloud-controller-manager",
        "external_cloud_controller/hcloud/templates/external-hcloud-cloud-controller-manager-ds.yml.j2",
    ),
    (
        "kube-system/DaemonSet/hcloud-cloud-controller-manager",
        "external_cloud_controller/hcloud/templates/external-hcloud-cloud-controller-manager-ds-with-networks.yml.j2",
    ),
    (
        "kube-system/DaemonSet/huawei-cloud-controller-manager",
        "external_cloud_controller/huaweicloud/templates/external-huawei-cloud-controller-manager-ds.yml.j2",
    ),
    (
        "kube-system/DaemonSet/oci-cloud-controller-manager",
        "external_cloud_controller/oci/templates/external-oci-cloud-controller-manager.yml.j2",
    ),
    (
        "kube-system/DaemonSet/vsphere-cloud-controller-manager",
        "external_cloud_controller/vsphere/templates/external-vsphere-cloud-controller-manager-ds.yml.j2",
    ),
    (
        "metallb-system/DaemonSet/speaker",
        "metallb/templates/metallb.yaml.j2",
    ),
];

/// The corpus tree, found beside this repository (or a worktree's parent directories).
fn kubespray_tree() -> PathBuf {
    let root = repo_root().canonicalize().expect("repository root");
    root.ancestors()
        .skip(1)
        .map(|d| d.join("shared/corpus/trees/kubespray-46dbdd3"))
        .find(|t| t.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "shared/corpus/trees/kubespray-46dbdd3 is not beside {}: the whole-tree tests need it",
                root.display()
            )
        })
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_priorityguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .output()
        .expect("binary runs")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let t = entry.file_type().unwrap();
        if t.is_dir() {
            copy_tree(&src, &dst);
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else {
            std::fs::copy(&src, &dst).unwrap();
            let mut perms = std::fs::metadata(&dst).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&dst, perms).unwrap();
        }
    }
}

/// A writable copy of the tree with its symbolic links restored.
fn checkout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&kubespray_tree(), dir.path());
    for link in LINKS {
        let at = dir.path().join(link);
        if at.is_symlink() {
            continue;
        }
        let target = std::fs::read_to_string(&at).unwrap();
        assert!(
            !target.contains('\n') && target.len() < 100,
            "{link} should hold its link target"
        );
        std::fs::remove_file(&at).unwrap();
        std::os::unix::fs::symlink(target.trim(), &at).unwrap();
    }
    assert!(
        dir.path()
            .join("extra_playbooks/roles/kubespray_defaults")
            .is_dir()
    );
    dir
}

/// `check object at file:line (matched by ...)`, one per finding, sorted.
fn findings(report: &serde_json::Value) -> Vec<String> {
    let mut lines: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let o = &f["object"];
            let at = &f["location"];
            format!(
                "{} {}/{}/{} at {}:{} ({})",
                f["check"].as_str().unwrap(),
                o["namespace"].as_str().unwrap_or(""),
                o["kind"].as_str().unwrap(),
                o["name"].as_str().unwrap(),
                at["file"].as_str().unwrap().trim_start_matches("./"),
                at["line"],
                f["component"]["matched_by"].as_str().unwrap_or("")
            )
        })
        .collect();
    lines.sort();
    lines
}

fn no_input_error(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.lines().any(|l| l.starts_with("error")),
        "input errors:\n{stderr}"
    );
}

fn audit(dir: &Path, extra: &[&str]) -> (Output, Vec<String>) {
    let mut args = vec!["audit", "-o", "json"];
    args.extend(extra);
    args.push(".");
    let out = run_in(dir, &args);
    no_input_error(&out);
    let list = findings(&json(&out));
    (out, list)
}

fn assert_each_once(list: &[String]) {
    let unique: BTreeSet<&String> = list.iter().collect();
    assert_eq!(unique.len(), list.len(), "a finding is reported twice");
}

#[test]
fn kubespray_at_its_root_each_finding_once_and_no_input_error() {
    let tree = kubespray_tree();
    let table = run_in(&tree, &["audit", "."]);
    assert_eq!(table.status.code(), Some(1));
    no_input_error(&table);

    let (out, list) = audit(&tree, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_each_once(&list);
    for (object, template) in MUST_FLAG {
        let file = format!("roles/kubernetes-apps/{template}");
        assert!(
            list.iter()
                .any(|f| f.starts_with(&format!("critical-without-priority {object} at {file}:"))),
            "{object} ({file}) not flagged:\n{}",
            list.join("\n")
        );
    }
    insta::assert_snapshot!(list.join("\n"));
    // Every workload document of the tree is read (56 `kind:` lines of pod-creating kinds at
    // the start of a line), among them the ovs-ovn DaemonSet after an inline if/else
    // (kube-ovn's cni-ovn.yml.j2:508). The ConfigMaps with statements inside block scalars
    // (coredns-config, nodelocaldns-config, local-volume-provisioner-cm) are covered by the
    // no-input-error check above.
    let report = json(&out);
    assert_eq!(report["stats"]["workloads"], 56);
    let protected: Vec<String> = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["protected"] == true)
        .map(|c| {
            format!(
                "{}/{}",
                c["object"]["kind"].as_str().unwrap(),
                c["object"]["name"].as_str().unwrap()
            )
        })
        .collect();
    for name in [
        "DaemonSet/ovs-ovn",
        "Deployment/coredns",
        "DaemonSet/nodelocaldns",
    ] {
        assert!(
            protected.iter().any(|p| p == name),
            "{name} not read: {protected:?}"
        );
    }

    // As a checkout has it, with its links: `extra_playbooks/roles -> ../roles` is not
    // followed, and followed (--follow) its files are still read once.
    let copy = checkout();
    assert_eq!(audit(copy.path(), &[]).1, list);
    let (followed, followed_list) = audit(copy.path(), &["--follow"]);
    assert_eq!(followed.status.code(), Some(1));
    assert_eq!(followed_list, list);
    let verbose = run_in(copy.path(), &["audit", "--verbose", "."]);
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        stderr.contains("note: ./extra_playbooks/roles: link to a directory, not followed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("note: ./cluster.yml:2: not a Kubernetes object"),
        "{stderr}"
    );
}

#[test]
fn kubespray_fix_write_on_a_copy_then_audit_is_clean() {
    let copy = checkout();
    let (_, before) = audit(copy.path(), &[]);
    let fix = run_in(copy.path(), &["fix", "--write", "."]);
    let stderr = String::from_utf8_lossy(&fix.stderr);
    assert_eq!(fix.status.code(), Some(0), "{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with("error")), "{stderr}");
    // Each file is fixed once, even with `extra_playbooks/roles` leading to the same files.
    let fixed: Vec<&str> = stderr.lines().filter(|l| l.starts_with("fixed ")).collect();
    let files: BTreeSet<&str> = fixed
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(files.len(), fixed.len(), "{stderr}");

    let tree = kubespray_tree();
    for (object, template) in MUST_FLAG {
        let file = format!("roles/kubernetes-apps/{template}");
        let old = std::fs::read_to_string(tree.join(&file)).unwrap();
        let new = std::fs::read_to_string(copy.path().join(&file)).unwrap();
        let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
        assert_eq!(new.len(), old.len() + 1, "{object} in {file}");
        let at = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
        let mut without = new.clone();
        let added = without.remove(at);
        assert_eq!(
            without, old,
            "{object} in {file}: more than one line changed"
        );
        assert!(
            added.trim().starts_with("priorityClassName: system-"),
            "{object} in {file}: added {added:?}"
        );
    }

    let (again, after) = audit(copy.path(), &[]);
    assert_eq!(again.status.code(), Some(0), "still: {after:?}");
    assert!(after.is_empty(), "{after:?} (before the fix: {before:?})");
}

#[test]
fn kubespray_with_an_inventory_its_group_vars_win_over_role_defaults() {
    let inventory = tempfile::tempdir().unwrap();
    let all = inventory.path().join("group_vars/all");
    std::fs::create_dir_all(&all).unwrap();
    std::fs::write(
        all.join("mirror.yml"),
        "kube_image_repo: mirror.example.com/k8s\n",
    )
    .unwrap();
    let inv = inventory.path().display().to_string();
    let (out, list) = audit(&kubespray_tree(), &["--inventory", &inv]);
    assert_eq!(out.status.code(), Some(1));
    let cinder = list
        .iter()
        .find(|f| f.contains("Deployment/csi-cinder-controllerplugin"))
        .expect("flagged");
    assert!(
        cinder.contains(
            "image mirror.example.com/k8s/sig-storage/csi-provisioner:v4.0.1 (./roles/kubespray_defaults/defaults/main/download.yml:318)"
        ),
        "{cinder}"
    );
}
