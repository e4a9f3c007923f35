//! Test-only harness that runs a real, throwaway Kubernetes control plane.
//!
//! [`TestCluster::start`] launches etcd and kube-apiserver (and optionally
//! kube-scheduler and kube-controller-manager) as child processes on free
//! `127.0.0.1` ports, with a freshly generated PKI, RBAC authorization and an
//! admin kubeconfig. Everything lives in a temporary directory that is removed,
//! and every child is killed, when the [`TestCluster`] is dropped (also when
//! the test panics).
//!
//! The binaries are built once per machine by `scripts/k8s-test-env` into
//! `$HOME/.cache/priorityguard/k8s/<version>/bin` (or point
//! `$PRIORITYGUARD_K8S_BIN` at a directory holding `etcd`, `kube-apiserver`,
//! `kube-controller-manager`, `kube-scheduler` and `kubectl`).
//!
//! ```no_run
//! use pg_testenv::{Options, TestCluster};
//!
//! fn cluster_example() {
//!     pg_testenv::require_cluster!();
//!     let cluster = TestCluster::start(Options::default()).unwrap();
//!     let out = cluster.kubectl_ok(&["get", "priorityclasses", "-o", "name"], None);
//!     assert!(out.contains("system-node-critical"));
//! }
//! ```
//!
//! See `docs/testing-cluster.md` for how the binaries are built.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::json;

/// Kubernetes version whose binaries are used unless `$K8S_VERSION` says otherwise.
/// Keep in sync with `scripts/k8s-test-env`.
pub const DEFAULT_K8S_VERSION: &str = "v1.36.3";

/// Binaries that must be present in [`bin_dir`].
pub const BINARIES: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
];

/// Service CIDR handed to kube-apiserver (and the first address of it, which
/// the serving certificate covers as the in-cluster `kubernetes` Service IP).
const SERVICE_CIDR: &str = "10.0.0.0/24";
const KUBERNETES_SERVICE_IP: &str = "10.0.0.1";

/// How long to wait for each component to become ready. Generous because on a
/// 2-core machine several tests may start clusters at once.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Starting several control planes at the same moment on a small machine makes
/// each of them slow; startups within one test binary take turns.
static START_LOCK: Mutex<()> = Mutex::new(());

/// Directory holding the Kubernetes binaries: `$PRIORITYGUARD_K8S_BIN` if set,
/// else `$HOME/.cache/priorityguard/k8s/<$K8S_VERSION or DEFAULT_K8S_VERSION>/bin`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PRIORITYGUARD_K8S_BIN").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let version = std::env::var("K8S_VERSION")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| format!("v{}", v.trim_start_matches('v')))
        .unwrap_or_else(|| DEFAULT_K8S_VERSION.to_string());
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    home.join(".cache/priorityguard/k8s")
        .join(version)
        .join("bin")
}

/// True when every binary in [`BINARIES`] exists in [`bin_dir`].
pub fn binaries_available() -> bool {
    let dir = bin_dir();
    BINARIES.iter().all(|b| dir.join(b).is_file())
}

/// Decide what a cluster test does when the binaries are missing.
///
/// Returns `false` when the binaries are available (run the test). When they
/// are missing: panics if `$CI` is `true` (CI must not silently skip), otherwise
/// prints a loud `SKIPPED` line to stderr and returns `true` so the test can
/// `return` early. [`require_cluster!`] wraps this.
pub fn skip_or_fail_without_binaries() -> bool {
    if binaries_available() {
        return false;
    }
    let dir = bin_dir();
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "Kubernetes test binaries not found in {} and CI=true; run scripts/k8s-test-env",
            dir.display()
        );
    }
    // Written to the stderr handle directly: libtest captures `eprintln!`
    // of passing tests, and this line must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: Kubernetes test binaries not found; run scripts/k8s-test-env (looked in {})",
        dir.display()
    );
    true
}

/// Return early from the calling test (after a loud `SKIPPED` message) when the
/// Kubernetes binaries are missing, or fail it under `CI=true`.
/// See [`skip_or_fail_without_binaries`].
#[macro_export]
macro_rules! require_cluster {
    () => {
        if $crate::skip_or_fail_without_binaries() {
            return;
        }
    };
}

/// What to start besides etcd and kube-apiserver.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Start kube-scheduler (identity `system:kube-scheduler`) and wait until it
    /// holds its leader-election lease.
    pub scheduler: bool,
    /// Start kube-controller-manager (identity `system:kube-controller-manager`,
    /// per-controller service-account credentials) and wait until it holds its
    /// lease. The node-lifecycle controller is disabled so fake nodes without
    /// a kubelet are not marked unreachable and tainted.
    pub controller_manager: bool,
    /// Extra kube-apiserver flags, appended last, e.g.
    /// `--feature-gates=SomeGate=true` or `--runtime-config=group/version=true`.
    pub extra_apiserver_args: Vec<String>,
}

/// A running throwaway control plane. Dropping it kills every process and
/// removes its temporary directory (set `PRIORITYGUARD_KEEP_TESTENV=1` to keep
/// the directory, with certificates, kubeconfigs and logs, for debugging).
///
/// Let a test own its cluster (a local variable): `Drop` also runs when the
/// test panics. Do not park one in a `static`: statics are never dropped, so
/// its processes would outlive the test binary. Starting one takes about 3 s.
///
/// The API server runs with `--authorization-mode=RBAC` and every default
/// admission plugin except `ServiceAccount` (no controller creates the
/// `default` ServiceAccount unless `controller_manager` is on, and pods would
/// be rejected); `Priority` admission is on, so `spec.priority` is resolved.
pub struct TestCluster {
    bin_dir: PathBuf,
    procs: Vec<Proc>,
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    ca: CertificateAuthority,
    apiserver_port: u16,
    admin_kubeconfig: PathBuf,
}

struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

struct CertificateAuthority {
    cert: Certificate,
    key: KeyPair,
    cert_path: PathBuf,
}

impl TestCluster {
    /// Start etcd and kube-apiserver (and what `opts` asks for) and wait until
    /// the API server's `/readyz` is ok. On failure the error includes the tail
    /// of the failing component's log.
    pub fn start(opts: Options) -> Result<TestCluster> {
        let bin_dir = bin_dir();
        for b in BINARIES {
            let p = bin_dir.join(b);
            if !p.is_file() {
                bail!(
                    "missing {} (run scripts/k8s-test-env, or set PRIORITYGUARD_K8S_BIN)",
                    p.display()
                );
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("pg-testenv-")
            .tempdir()
            .context("creating temp dir")?;
        let root = dir.path().to_path_buf();
        let ca = CertificateAuthority::new(&root)?;
        let mut cluster = TestCluster {
            bin_dir,
            procs: Vec::new(),
            dir: Some(dir),
            root,
            ca,
            apiserver_port: 0,
            admin_kubeconfig: PathBuf::new(),
        };
        // A poisoned lock only means another test panicked while starting.
        let _turn = START_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut attempt = 1;
        loop {
            match cluster.start_components(&opts) {
                Ok(()) => return Ok(cluster),
                // A port picked as free is released before the component binds it, and
                // another process (a parallel test binary, an outgoing connection) can take it
                // in between: start over on fresh ports.
                Err(e)
                    if attempt < START_ATTEMPTS
                        && format!("{e:#}").contains("address already in use") =>
                {
                    eprintln!("pg-testenv: a port was taken during startup; retrying ({e:#})");
                    cluster.stop_all();
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn start_components(&mut self, opts: &Options) -> Result<()> {
        self.start_etcd_and_apiserver(opts)?;
        if opts.controller_manager {
            self.start_controller_manager()?;
        }
        if opts.scheduler {
            self.start_scheduler()?;
        }
        Ok(())
    }

    /// Kills every component, clients first and etcd last.
    fn stop_all(&mut self) {
        while let Some(mut p) = self.procs.pop() {
            kill_group(&mut p.child);
        }
    }

    fn start_etcd_and_apiserver(&mut self, opts: &Options) -> Result<()> {
        let pki = self.root.join("pki");
        // Serving certificate for every name clients may use.
        let serving = self.ca.issue(
            "kube-apiserver",
            &[],
            &[
                "127.0.0.1",
                "localhost",
                KUBERNETES_SERVICE_IP,
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (serving_crt, serving_key) = write_pair(&pki, "apiserver", &serving)?;
        // Service-account token signing keypair (ECDSA P-256): the private key
        // (PKCS#8) signs tokens, the public key (SPKI) verifies them.
        let sa = KeyPair::generate()?;
        let sa_key = pki.join("sa.key");
        let sa_pub = pki.join("sa.pub");
        write_private(&sa_key, &sa.serialize_pem())?;
        fs::write(&sa_pub, sa.public_key_pem())?;
        // The admin: group system:masters bypasses RBAC. Kubeconfigs embed the
        // server URL, so the port is chosen first.
        self.apiserver_port = free_port()?;
        self.admin_kubeconfig = self.try_kubeconfig_for_user("admin", &["system:masters"])?;

        // etcd, on two free ports; data dir in the temp dir.
        let etcd_data = self.root.join("etcd-data");
        // Left over from an attempt that failed on a taken port.
        let _ = fs::remove_dir_all(&etcd_data);
        let (client_port, peer_port) = (free_port()?, free_port()?);
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let etcd_args = vec![
            "--name=testenv".to_string(),
            format!("--data-dir={}", etcd_data.display()),
            format!("--listen-client-urls={client_url}"),
            format!("--advertise-client-urls={client_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=testenv={peer_url}"),
            // Throwaway data: skip fsync for speed (envtest does the same).
            "--unsafe-no-fsync=true".to_string(),
            "--log-level=warn".to_string(),
        ];
        self.spawn("etcd", &etcd_args)?;
        self.wait_until("etcd", |_| {
            Ok(http_get(client_port, "/health")?.contains("\"health\":\"true\""))
        })?;

        let mut args = vec![
            format!("--etcd-servers={client_url}"),
            "--bind-address=127.0.0.1".to_string(),
            "--advertise-address=127.0.0.1".to_string(),
            format!("--secure-port={}", self.apiserver_port),
            format!("--tls-cert-file={}", serving_crt.display()),
            format!("--tls-private-key-file={}", serving_key.display()),
            format!("--client-ca-file={}", self.ca.cert_path.display()),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_string(),
            format!("--service-account-key-file={}", sa_pub.display()),
            format!("--service-account-signing-key-file={}", sa_key.display()),
            // Real authorization, so tests can assert 403s.
            "--authorization-mode=RBAC".to_string(),
            "--allow-privileged=true".to_string(),
            // There are no kubelets and (often) no controller-manager to create
            // each namespace's `default` ServiceAccount, so the ServiceAccount
            // admission plugin would reject every pod; all other default
            // admission plugins (Priority among them) stay on.
            "--disable-admission-plugins=ServiceAccount".to_string(),
            "--endpoint-reconciler-type=none".to_string(),
            "--v=1".to_string(),
        ];
        args.extend(opts.extra_apiserver_args.iter().cloned());
        self.spawn("kube-apiserver", &args)?;
        self.wait_until("kube-apiserver", |c| {
            let out = c.kubectl(&["get", "--raw=/readyz"]);
            Ok(out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok")
        })
    }

    fn start_controller_manager(&mut self) -> Result<()> {
        let kubeconfig = self.try_kubeconfig_for_user("system:kube-controller-manager", &[])?;
        let sa_key = self.root.join("pki/sa.key");
        let ca_key = self.root.join("pki/ca.key");
        let args = vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            // Like kubeadm: each controller runs as its own service account, so
            // RBAC applies to controllers as in a real cluster.
            "--use-service-account-credentials=true".to_string(),
            format!("--service-account-private-key-file={}", sa_key.display()),
            format!("--root-ca-file={}", self.ca.cert_path.display()),
            format!(
                "--cluster-signing-cert-file={}",
                self.ca.cert_path.display()
            ),
            format!("--cluster-signing-key-file={}", ca_key.display()),
            // Fake nodes have no kubelet heartbeats; the node-lifecycle
            // controller would mark them unreachable and taint/evict.
            "--controllers=*,-node-lifecycle-controller".to_string(),
            // No HTTPS health endpoint needed: readiness is its lease.
            "--secure-port=0".to_string(),
            "--leader-elect=true".to_string(),
            "--v=1".to_string(),
        ];
        self.spawn("kube-controller-manager", &args)?;
        self.wait_for_lease("kube-controller-manager")
    }

    fn start_scheduler(&mut self) -> Result<()> {
        let kubeconfig = self.try_kubeconfig_for_user("system:kube-scheduler", &[])?;
        let args = vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            "--secure-port=0".to_string(),
            "--leader-elect=true".to_string(),
            "--v=1".to_string(),
        ];
        self.spawn("kube-scheduler", &args)?;
        self.wait_for_lease("kube-scheduler")
    }

    /// A component is up once it holds its leader-election Lease in kube-system
    /// (the cluster is brand new, so the holder can only be this process).
    fn wait_for_lease(&mut self, name: &'static str) -> Result<()> {
        self.wait_until(name, |c| {
            let out = c.kubectl(&[
                "get",
                "lease",
                "-n",
                "kube-system",
                name,
                "-o",
                "jsonpath={.spec.holderIdentity}",
            ]);
            Ok(out.status.success() && !out.stdout.is_empty())
        })
    }

    fn spawn(&mut self, name: &'static str, args: &[String]) -> Result<()> {
        let log = self.root.join(format!("{name}.log"));
        let file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(self.bin_dir.join(name))
            .args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            // Own process group, so Drop can signal the whole group.
            .process_group(0)
            .spawn()
            .with_context(|| format!("spawning {name}"))?;
        self.procs.push(Proc { name, child, log });
        Ok(())
    }

    /// Poll `ready` until it returns true; fail early if `name` exited, and
    /// fail with the tail of its log after [`START_TIMEOUT`].
    fn wait_until(
        &mut self,
        name: &'static str,
        ready: impl Fn(&Self) -> Result<bool>,
    ) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last_err = String::new();
        loop {
            match ready(self) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => last_err = format!("{e:#}"),
            }
            let proc = self
                .procs
                .iter_mut()
                .find(|p| p.name == name)
                .context("component was never spawned")?;
            if let Some(status) = proc.child.try_wait()? {
                bail!(
                    "{name} exited during startup ({status}); last lines of {}:\n{}",
                    proc.log.display(),
                    log_tail(&proc.log, 40)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} not ready after {}s (last probe error: {last_err}); last lines of {}:\n{}",
                    START_TIMEOUT.as_secs(),
                    proc.log.display(),
                    log_tail(&proc.log, 40)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Path of the admin kubeconfig (client certificate in group `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// `https://127.0.0.1:<port>` of the API server.
    pub fn server_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.apiserver_port)
    }

    /// Directory of the binaries this cluster runs (kubectl among them).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Temporary directory with certificates (`pki/`), kubeconfigs and
    /// component logs (`<component>.log`).
    pub fn work_dir(&self) -> &Path {
        &self.root
    }

    /// Run the harness's kubectl as the admin. Never panics on a non-zero exit.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(&self.admin_kubeconfig, args, None)
    }

    /// Run kubectl as the admin, feeding `stdin` if given (e.g. with `-f -`);
    /// return stdout, or panic with the command, stdout and stderr on failure.
    pub fn kubectl_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_with(&self.admin_kubeconfig, args, stdin);
        if !out.status.success() {
            panic!(
                "kubectl {} failed ({}):\nstdout: {}\nstderr: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl as the admin (like [`kubectl_ok`](Self::kubectl_ok)) and parses its JSON
    /// output: `kubectl_json(&["get", "ds", "-n", "kube-system", "x", "-o", "json"])`.
    pub fn kubectl_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.kubectl_ok(args, None);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("kubectl {} printed no JSON ({e}): {out}", args.join(" ")))
    }

    /// Run kubectl with another kubeconfig (e.g. one from
    /// [`kubeconfig_for_user`](Self::kubeconfig_for_user)), feeding `stdin` if given.
    pub fn kubectl_with(&self, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(self.bin_dir.join("kubectl"));
        cmd.arg(format!("--kubeconfig={}", kubeconfig.display()))
            // Keep kubectl's discovery cache inside the temp dir, not ~/.kube.
            .arg(format!(
                "--cache-dir={}",
                self.root.join("kubectl-cache").display()
            ))
            .arg("--request-timeout=30s")
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", self.bin_dir.join("kubectl").display()));
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            // kubectl may exit before reading everything; ignore broken pipes.
            let _ = pipe.write_all(input.as_bytes());
        }
        child.wait_with_output().expect("waiting for kubectl")
    }

    /// Write a kubeconfig authenticating as user `name` in `groups` with a
    /// client certificate signed by the cluster CA (CN=name, O=groups), and
    /// return its path. The user has only the rights RBAC gives it: none for a
    /// fresh name, so requests get 403 Forbidden.
    pub fn kubeconfig_for_user(&self, name: &str, groups: &[&str]) -> PathBuf {
        self.try_kubeconfig_for_user(name, groups)
            .unwrap_or_else(|e| panic!("writing kubeconfig for {name}: {e:#}"))
    }

    fn try_kubeconfig_for_user(&self, name: &str, groups: &[&str]) -> Result<PathBuf> {
        let file_stem: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let cert = self
            .ca
            .issue(name, groups, &[], ExtendedKeyUsagePurpose::ClientAuth)?;
        let (crt, key) = write_pair(&self.root.join("pki"), &format!("user-{file_stem}"), &cert)?;
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{
                "name": "testenv",
                "cluster": {
                    "server": self.server_url(),
                    "certificate-authority": self.ca.cert_path,
                },
            }],
            "users": [{
                "name": name,
                "user": { "client-certificate": crt, "client-key": key },
            }],
            "contexts": [{
                "name": "testenv",
                "context": { "cluster": "testenv", "user": name, "namespace": "default" },
            }],
            "current-context": "testenv",
        });
        let path = self.root.join(format!("kubeconfig-{file_stem}.json"));
        fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
        Ok(path)
    }

    /// Sets `priorityClassName` in a workload's pod template, as a user fixing it by hand
    /// would: `workload` is `daemonset/kube-multus-ds`-style.
    pub fn set_template_class(&self, workload: &str, namespace: &str, class: &str) {
        let patch =
            format!(r#"{{"spec":{{"template":{{"spec":{{"priorityClassName":"{class}"}}}}}}}}"#);
        self.kubectl_ok(
            &[
                "patch",
                workload,
                "-n",
                namespace,
                "--type=merge",
                "-p",
                &patch,
            ],
            None,
        );
    }

    /// Create a Node object that looks like a healthy node to the scheduler:
    /// `cpu`, `memory` and `pods` (Kubernetes quantities, e.g. `"4"`, `"8Gi"`,
    /// `"110"`) as capacity and allocatable, and a `Ready=True` condition.
    ///
    /// No kubelet runs; the object is made in three API calls:
    /// 1. `kubectl create -f -` of the Node (labels `kubernetes.io/hostname`,
    ///    `kubernetes.io/os=linux`). Status in a create is ignored.
    /// 2. `kubectl patch --subresource=status --type=merge` to set
    ///    capacity, allocatable and conditions (status is only writable there).
    /// 3. `kubectl patch --type=merge` clearing `spec.taints`: the
    ///    TaintNodesByCondition admission plugin gives every new Node the
    ///    `node.kubernetes.io/not-ready:NoSchedule` taint, which normally the
    ///    node-lifecycle controller removes (disabled here, see [`Options`]).
    ///
    /// Panics on failure (it is meant for test setup).
    pub fn create_fake_node(&self, name: &str, cpu: &str, memory: &str, pods: &str) {
        let node = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
            },
        });
        self.kubectl_ok(&["create", "-f", "-"], Some(&node.to_string()));
        let now = utc_now_rfc3339();
        let resources = json!({ "cpu": cpu, "memory": memory, "pods": pods });
        let status = json!({
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "conditions": [{
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "fake node created by pg-testenv",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }],
            }
        });
        self.kubectl_ok(
            &[
                "patch",
                "node",
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                &status.to_string(),
            ],
            None,
        );
        self.kubectl_ok(
            &[
                "patch",
                "node",
                name,
                "--type=merge",
                "-p",
                r#"{"spec":{"taints":null}}"#,
            ],
            None,
        );
    }

    /// Kill kube-apiserver (the rest keeps running), so tests can exercise
    /// "API server unreachable" errors. Idempotent.
    pub fn stop_apiserver(&mut self) {
        if let Some(i) = self.procs.iter().position(|p| p.name == "kube-apiserver") {
            let mut p = self.procs.remove(i);
            kill_group(&mut p.child);
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.stop_all();
        if let Some(dir) = self.dir.take()
            && std::env::var_os("PRIORITYGUARD_KEEP_TESTENV").is_some_and(|v| v == "1")
        {
            eprintln!("pg-testenv: keeping {}", dir.keep().display());
        }
        // Otherwise TempDir's own Drop removes it.
    }
}

impl CertificateAuthority {
    fn new(root: &Path) -> Result<Self> {
        let pki = root.join("pki");
        fs::create_dir_all(&pki)?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("pg-testenv-ca", &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        let cert_path = pki.join("ca.crt");
        fs::write(&cert_path, cert.pem())?;
        write_private(&pki.join("ca.key"), &key.serialize_pem())?;
        Ok(Self {
            cert,
            key,
            cert_path,
        })
    }

    /// Issue a leaf certificate (fresh ECDSA P-256 key) signed by this CA.
    fn issue(
        &self,
        common_name: &str,
        organizations: &[&str],
        sans: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<(Certificate, KeyPair)> {
        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = dn(common_name, organizations);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok((cert, key))
    }
}

fn dn(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    // Kubernetes maps O= to groups, one per O attribute.
    for o in organizations {
        dn.push(DnType::OrganizationName, *o);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn write_pair(dir: &Path, stem: &str, pair: &(Certificate, KeyPair)) -> Result<(PathBuf, PathBuf)> {
    let crt = dir.join(format!("{stem}.crt"));
    let key = dir.join(format!("{stem}.key"));
    fs::write(&crt, pair.0.pem())?;
    write_private(&key, &pair.1.serialize_pem())?;
    Ok((crt, key))
}

fn write_private(path: &Path, pem: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(pem.as_bytes())?;
    Ok(())
}

/// A port the kernel just handed out on 127.0.0.1. Another process could
/// still take it before the component binds it; that shows up as a startup
/// error with "address already in use" in the log tail.
/// How often [`TestCluster::start`] tries when a chosen port is taken before it is bound.
const START_ATTEMPTS: u32 = 3;

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Minimal plain-HTTP GET against 127.0.0.1 (for etcd's /health).
fn http_get(port: u16, path: &str) -> Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// SIGKILL the child's process group (it was spawned as its own group leader)
/// and reap it.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: plain syscall; the group id is our own child's pid, and the
        // child is not reaped yet, so the id cannot have been reused.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| format!("<cannot read log: {e}>"));
    let all: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for l in &all[all.len().saturating_sub(lines)..] {
        let _ = writeln!(out, "    {l}");
    }
    out
}

/// Current UTC time as RFC 3339 (`2006-01-02T15:04:05Z`), without a date crate.
fn utc_now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_shape() {
        let s = utc_now_rfc3339();
        assert_eq!(s.len(), 20, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'), "{s}");
    }

    #[test]
    fn ca_issues_client_cert_with_groups() {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::new(dir.path()).unwrap();
        let (cert, _key) = ca
            .issue(
                "alice",
                &["devs", "ops"],
                &[],
                ExtendedKeyUsagePurpose::ClientAuth,
            )
            .unwrap();
        assert!(cert.pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(dir.path().join("pki/ca.crt").is_file());
    }
}
