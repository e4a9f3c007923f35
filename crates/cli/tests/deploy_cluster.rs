//! priorityguard where users deploy, with the real tools (built by scripts/deploy-tools) and a
//! real kube-apiserver (pg-testenv): Helm 3 (`--post-renderer PATH`) and Helm 4 (the plugin in
//! plugins/helm) install the flannel chart and a chart of the upstream Multus DaemonSet, which
//! has no class, and the DaemonSets land in the API server with system-node-critical;
//! `--audit-only` makes the install fail and say why; `kustomize build` runs `priorityguard
//! krm` over the upstream Multus manifest. The commands are the README's, verbatim.

mod common;
use common::*;
use pg_testenv::{Options, TestCluster};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HELM3_INSTALL: &str = "helm install flannel testdata/upstream/flannel/chart --namespace kube-flannel --create-namespace --post-renderer priorityguard --post-renderer-args fix --post-renderer-args --post-render";
const HELM4_PLUGIN_INSTALL: &str = "helm plugin install plugins/helm";
const HELM4_INSTALL: &str = "helm install flannel testdata/upstream/flannel/chart --namespace kube-flannel --create-namespace --post-renderer priorityguard";
const HELM3_AUDIT_ONLY: &str = "--post-renderer priorityguard --post-renderer-args fix --post-renderer-args --post-render --post-renderer-args --audit-only";
const HELM4_AUDIT_ONLY: &str = "--post-renderer priorityguard --post-renderer-args --audit-only";
const KUSTOMIZE_BUILD: &str = "kustomize build --enable-alpha-plugins --enable-exec --load-restrictor LoadRestrictionsNone examples/kustomize";

/// A tool built by scripts/deploy-tools, or `None` after a loud SKIPPED line (a failure when
/// CI=true: CI must not skip silently).
fn deploy_tool(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    let path = home
        .join(".cache/priorityguard/deploy-tools/bin")
        .join(name);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} not found and CI=true; run scripts/deploy-tools",
            path.display()
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {name} not found; run scripts/deploy-tools (looked for {})",
        path.display()
    );
    None
}

/// Runs the tools as a user would: `helm`/`kustomize` and `priorityguard` found on PATH, in
/// the repository root, with Helm's own state in a throwaway directory.
struct Deployer {
    home: tempfile::TempDir,
    bin: PathBuf,
    kubeconfig: Option<PathBuf>,
}

impl Deployer {
    /// `tool` is linked as `as_name` (`helm` for helm3 and helm4).
    fn new(tool: &Path, as_name: &str, kubeconfig: Option<&Path>) -> Deployer {
        let home = tempfile::tempdir().unwrap();
        let bin = home.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(tool, bin.join(as_name)).unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_priorityguard"),
            bin.join("priorityguard"),
        )
        .unwrap();
        Deployer {
            home,
            bin,
            kubeconfig: kubeconfig.map(Path::to_path_buf),
        }
    }

    /// Runs `command` (split on spaces) plus `extra`.
    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let mut words = command.split(' ');
        let program = self.bin.join(words.next().unwrap());
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let state = self.home.path();
        let mut cmd = Command::new(program);
        cmd.args(words)
            .args(extra)
            .current_dir(repo_root())
            .env("PATH", path)
            .env("HELM_CACHE_HOME", state.join("cache"))
            .env("HELM_CONFIG_HOME", state.join("config"))
            .env("HELM_DATA_HOME", state.join("data"))
            .env("NO_COLOR", "1");
        match &self.kubeconfig {
            Some(k) => cmd.env("KUBECONFIG", k),
            None => cmd.env_remove("KUBECONFIG"),
        };
        cmd.output().unwrap()
    }

    fn ok(&self, command: &str, extra: &[&str]) -> String {
        let out = self.run(command, extra);
        assert!(
            out.status.success(),
            "{command} {extra:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// A chart of the upstream Multus manifest, unchanged (its DaemonSet has no class), with a
/// pre-install hook ConfigMap that must come through the post-renderer byte for byte.
fn multus_chart(dir: &Path) -> String {
    let chart = dir.join("multus-chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: multus\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::copy(
        upstream("multus-cni/multus-daemonset.yml"),
        chart.join("templates/multus-daemonset.yml"),
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/hook.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: multus-preflight\n  annotations:\n    \"helm.sh/hook\": pre-install\n# a comment the post-renderer keeps\ndata:\n  note: {{ .Release.Name | quote }}\n",
    )
    .unwrap();
    chart.display().to_string()
}

fn class_of(cluster: &TestCluster, namespace: &str, daemonset: &str) -> String {
    let ds = cluster.kubectl_json(&["get", "daemonset", "-n", namespace, daemonset, "-o", "json"]);
    ds["spec"]["template"]["spec"]["priorityClassName"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// `helm template` with and without the post-renderer differ in exactly the Multus pod
/// spec's new line: everything else (hooks included) is byte for byte the same.
fn assert_only_class_added(plain: &str, rendered: &str) {
    let diff = similar_lines(plain, rendered);
    assert_eq!(
        diff,
        vec!["+      priorityClassName: system-node-critical".to_string()],
        "post-rendered output differs from the plain render in more than the class"
    );
}

/// Helm 4 re-formats the stream around the post-renderer (kyaml, adding and removing its
/// filename annotation), so there the objects are compared: equal but for the Multus pod spec's
/// new class.
fn assert_only_class_set(plain: &str, rendered: &str) {
    let objects = |text: &str| -> Vec<serde_json::Value> {
        let mut docs: Vec<serde_json::Value> = text
            .split("\n---")
            .filter_map(|d| serde_yaml_ng::from_str::<serde_json::Value>(d).ok())
            .filter(|d| d.is_object())
            .collect();
        docs.sort_by_key(|d| format!("{}/{}", d["kind"], d["metadata"]["name"]));
        docs
    };
    let (plain, mut rendered) = (objects(plain), objects(rendered));
    assert_eq!(plain.len(), 7, "{plain:?}");
    let ds = rendered
        .iter_mut()
        .find(|d| d["kind"] == "DaemonSet")
        .unwrap();
    let spec = ds["spec"]["template"]["spec"].as_object_mut().unwrap();
    assert_eq!(
        spec.remove("priorityClassName").unwrap(),
        "system-node-critical"
    );
    assert_eq!(plain, rendered);
}

fn similar_lines(a: &str, b: &str) -> Vec<String> {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut changes = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i >= a.len() || a[i..].iter().all(|l| *l != b[j])) {
            changes.push(format!("+{}", b[j]));
            j += 1;
        } else {
            changes.push(format!("-{}", a[i]));
            i += 1;
        }
    }
    changes
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn cluster_helm3_post_renderer_installs_charts_with_their_class() {
    pg_testenv::require_cluster!();
    let Some(helm3) = deploy_tool("helm3") else {
        return;
    };
    let cluster = TestCluster::start(Options::default()).unwrap();
    let helm = Deployer::new(&helm3, "helm", Some(cluster.kubeconfig_path()));
    assert!(helm.ok("helm version --short", &[]).starts_with("v3."));

    // The README's command: flannel's chart already names system-node-critical, and keeps it.
    helm.ok(HELM3_INSTALL, &[]);
    assert_eq!(
        class_of(&cluster, "kube-flannel", "kube-flannel-ds"),
        "system-node-critical"
    );

    // The upstream Multus DaemonSet has no class; the post-renderer adds it.
    let chart = multus_chart(helm.home.path());
    let post_render = &HELM3_INSTALL[HELM3_INSTALL.find("--post-renderer ").unwrap()..];
    let args: Vec<&str> = post_render.split(' ').collect();
    let plain = helm.ok(
        "helm template multus",
        &[&chart, "--namespace", "kube-system"],
    );
    let rendered = helm.ok(
        "helm template multus",
        &[&[chart.as_str(), "--namespace", "kube-system"][..], &args].concat(),
    );
    assert_only_class_added(&plain, &rendered);
    helm.ok(
        "helm install multus",
        &[&[chart.as_str(), "--namespace", "kube-system"][..], &args].concat(),
    );
    assert_eq!(
        class_of(&cluster, "kube-system", "kube-multus-ds"),
        "system-node-critical"
    );
}

#[test]
fn cluster_helm3_audit_only_fails_the_install_and_says_why() {
    pg_testenv::require_cluster!();
    let Some(helm3) = deploy_tool("helm3") else {
        return;
    };
    let cluster = TestCluster::start(Options::default()).unwrap();
    let helm = Deployer::new(&helm3, "helm", Some(cluster.kubeconfig_path()));
    let chart = multus_chart(helm.home.path());
    let args: Vec<&str> = HELM3_AUDIT_ONLY.split(' ').collect();
    let out = helm.run(
        "helm install multus",
        &[&[chart.as_str(), "--namespace", "kube-system"][..], &args].concat(),
    );
    assert!(!out.status.success(), "audit-only install succeeded");
    let err = stderr(&out);
    assert!(
        err.contains(
            "kube-system/DaemonSet/kube-multus-ds needs priorityClassName system-node-critical"
        ),
        "helm does not say why: {err}"
    );
    let get = cluster.kubectl(&["get", "daemonset", "-n", "kube-system", "kube-multus-ds"]);
    assert!(!get.status.success(), "the DaemonSet was created");
    // A chart that already has its class installs.
    helm.ok(
        "helm install flannel testdata/upstream/flannel/chart --namespace kube-flannel --create-namespace",
        &args,
    );
    assert_eq!(
        class_of(&cluster, "kube-flannel", "kube-flannel-ds"),
        "system-node-critical"
    );
}

#[test]
fn cluster_helm4_plugin_installs_charts_with_their_class() {
    pg_testenv::require_cluster!();
    let Some(helm4) = deploy_tool("helm4") else {
        return;
    };
    let cluster = TestCluster::start(Options::default()).unwrap();
    let helm = Deployer::new(&helm4, "helm", Some(cluster.kubeconfig_path()));
    assert!(helm.ok("helm version --short", &[]).starts_with("v4."));
    helm.ok(HELM4_PLUGIN_INSTALL, &[]);
    assert!(helm.ok("helm plugin list", &[]).contains("priorityguard"));

    helm.ok(HELM4_INSTALL, &[]);
    assert_eq!(
        class_of(&cluster, "kube-flannel", "kube-flannel-ds"),
        "system-node-critical"
    );

    // Helm 4 passes hooks through the post-renderer too: the hook ConfigMap comes out as it
    // went in, the DaemonSet gets its class.
    let chart = multus_chart(helm.home.path());
    let post_render = &HELM4_INSTALL[HELM4_INSTALL.find("--post-renderer ").unwrap()..];
    let args: Vec<&str> = post_render.split(' ').collect();
    let plain = helm.ok(
        "helm template multus",
        &[&chart, "--namespace", "kube-system"],
    );
    let rendered = helm.ok(
        "helm template multus",
        &[&[chart.as_str(), "--namespace", "kube-system"][..], &args].concat(),
    );
    assert!(rendered.contains("# a comment the post-renderer keeps"));
    assert_only_class_set(&plain, &rendered);
    helm.ok(
        "helm install multus",
        &[&[chart.as_str(), "--namespace", "kube-system"][..], &args].concat(),
    );
    assert_eq!(
        class_of(&cluster, "kube-system", "kube-multus-ds"),
        "system-node-critical"
    );
}

#[test]
fn cluster_helm4_audit_only_fails_the_install_and_says_why() {
    pg_testenv::require_cluster!();
    let Some(helm4) = deploy_tool("helm4") else {
        return;
    };
    let cluster = TestCluster::start(Options::default()).unwrap();
    let helm = Deployer::new(&helm4, "helm", Some(cluster.kubeconfig_path()));
    helm.ok(HELM4_PLUGIN_INSTALL, &[]);
    let chart = multus_chart(helm.home.path());
    let args: Vec<&str> = HELM4_AUDIT_ONLY.split(' ').collect();
    let out = helm.run(
        "helm install multus",
        &[&[chart.as_str(), "--namespace", "kube-system"][..], &args].concat(),
    );
    assert!(!out.status.success(), "audit-only install succeeded");
    let err = stderr(&out);
    assert!(
        err.contains(
            "kube-system/DaemonSet/kube-multus-ds needs priorityClassName system-node-critical"
        ),
        "helm does not say why: {err}"
    );
    let get = cluster.kubectl(&["get", "daemonset", "-n", "kube-system", "kube-multus-ds"]);
    assert!(!get.status.success(), "the DaemonSet was created");
}

#[test]
fn cluster_kustomize_function_fixes_upstream_multus() {
    pg_testenv::require_cluster!();
    let Some(kustomize) = deploy_tool("kustomize") else {
        return;
    };
    // The example's resource is the upstream file, unchanged.
    assert_eq!(
        std::fs::read(repo_root().join("examples/multus-daemonset.yml")).unwrap(),
        std::fs::read(upstream("multus-cni/multus-daemonset.yml")).unwrap()
    );
    let tool = Deployer::new(&kustomize, "kustomize", None);
    let out = tool.run(KUSTOMIZE_BUILD, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "kustomize build failed: {err}");
    assert!(
        err.contains("DaemonSet kube-system/kube-multus-ds")
            && err.contains("(fixed: priorityClassName system-node-critical)"),
        "the function's results do not name the DaemonSet: {err}"
    );
    let built = String::from_utf8(out.stdout).unwrap();
    let documents: Vec<serde_json::Value> = built
        .split("\n---\n")
        .map(|d| serde_yaml_ng::from_str(d).unwrap())
        .collect();
    let ds = documents
        .iter()
        .find(|d| d["kind"] == "DaemonSet")
        .expect("the build has the DaemonSet");
    assert_eq!(
        ds["spec"]["template"]["spec"]["priorityClassName"],
        "system-node-critical"
    );
    // No function bookkeeping leaks into the output.
    assert!(!built.contains("config.kubernetes.io/"), "{built}");

    let cluster = TestCluster::start(Options::default()).unwrap();
    cluster.kubectl_ok(&["apply", "-f", "-"], Some(&built));
    assert_eq!(
        class_of(&cluster, "kube-system", "kube-multus-ds"),
        "system-node-critical"
    );
}

#[test]
fn kustomize_function_audit_only_fails_the_build() {
    let Some(kustomize) = deploy_tool("kustomize") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        upstream("multus-cni/multus-daemonset.yml"),
        dir.path().join("multus-daemonset.yml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n- multus-daemonset.yml\nvalidators:\n- priorityguard.yaml\n",
    )
    .unwrap();
    let config = std::fs::read_to_string(repo_root().join("examples/kustomize/priorityguard.yaml"))
        .unwrap()
        .replace("mode: fix", "mode: audit-only");
    std::fs::write(dir.path().join("priorityguard.yaml"), config).unwrap();
    let tool = Deployer::new(&kustomize, "kustomize", None);
    let path = dir.path().display().to_string();
    let out = tool.run(
        "kustomize build --enable-alpha-plugins --enable-exec",
        &[&path],
    );
    assert!(!out.status.success(), "audit-only build succeeded");
    let err = stderr(&out);
    assert!(
        err.contains("priorityguard krm: error: DaemonSet kube-system/kube-multus-ds: ")
            && err.contains("(needs: priorityClassName system-node-critical)"),
        "kustomize does not say why: {err}"
    );
}

#[test]
fn readme_shows_the_tested_commands() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for command in [
        HELM3_INSTALL,
        HELM4_PLUGIN_INSTALL,
        HELM4_INSTALL,
        KUSTOMIZE_BUILD,
    ] {
        assert!(readme.contains(command), "README.md lacks `{command}`");
    }
}
