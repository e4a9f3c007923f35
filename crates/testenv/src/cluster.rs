//! [`TestCluster`]: start, watch and stop the control plane's processes, and keep the
//! evidence when something goes wrong.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rcgen::{ExtendedKeyUsagePurpose, KeyPair};

use crate::binaries::{BINARIES, bin_dir};
use crate::pki::{CertificateAuthority, write_pair, write_private};
use crate::ports::{HeldPort, pick_port};
use crate::process::Proc;

/// Service CIDR handed to kube-apiserver (and the first address of it, which
/// the serving certificate covers as the in-cluster `kubernetes` Service IP).
const SERVICE_CIDR: &str = "10.0.0.0/24";
const KUBERNETES_SERVICE_IP: &str = "10.0.0.1";

/// How long to wait for each component to become ready. Generous because on a
/// 2-core machine several tests may start clusters at once.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How often [`TestCluster::start`] tries when the API server's port is taken before it binds
/// it (only a process binding that very number can, see `ports`).
const START_ATTEMPTS: u32 = 3;

/// Log lines of each component shown when a test fails.
const EVIDENCE_LINES: usize = 30;

/// Starting several control planes at the same moment on a small machine makes
/// each of them slow; startups within one test binary take turns.
static START_LOCK: Mutex<()> = Mutex::new(());

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
/// removes its temporary directory, unless the test failed (then the directory
/// is kept and each component's state and log tail are printed) or
/// `PRIORITYGUARD_KEEP_TESTENV=1` is set.
///
/// Let a test own its cluster (a local variable), started and dropped on the
/// test's thread: `Drop` also runs when the test panics, and the components
/// die with the thread that started them (parent-death signal). Do not park
/// one in a `static`. Starting one takes about 3 s.
///
/// The API server runs with `--authorization-mode=RBAC` and every default
/// admission plugin except `ServiceAccount` (no controller creates the
/// `default` ServiceAccount unless `controller_manager` is on, and pods would
/// be rejected); `Priority` admission is on, so `spec.priority` is resolved.
pub struct TestCluster {
    pub(crate) bin_dir: PathBuf,
    procs: Mutex<Vec<Proc>>,
    /// Ports of stopped servers, bound and not listening until drop.
    held: Vec<HeldPort>,
    dir: Option<tempfile::TempDir>,
    pub(crate) root: PathBuf,
    pub(crate) ca: CertificateAuthority,
    apiserver_port: u16,
    pub(crate) admin_kubeconfig: PathBuf,
    /// Set once something failed: keep the temp dir.
    keep: AtomicBool,
}

impl TestCluster {
    /// Start etcd and kube-apiserver (and what `opts` asks for) and wait until
    /// the API server's `/readyz` is ok. On failure the error includes the state and log
    /// tail of every component, and the temp dir is kept.
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
            procs: Mutex::new(Vec::new()),
            held: Vec::new(),
            dir: Some(dir),
            root,
            ca,
            apiserver_port: 0,
            admin_kubeconfig: PathBuf::new(),
            keep: AtomicBool::new(false),
        };
        // A poisoned lock only means another test panicked while starting.
        let _turn = START_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut attempt = 1;
        loop {
            match cluster.start_components(&opts) {
                Ok(()) => return Ok(cluster),
                Err(e)
                    if attempt < START_ATTEMPTS
                        && format!("{e:#}").contains("address already in use") =>
                {
                    let _ = writeln!(
                        std::io::stderr(),
                        "pg-testenv: a port was taken during startup; retrying ({e:#})"
                    );
                    cluster.stop_all();
                    attempt += 1;
                }
                Err(e) => {
                    let evidence = cluster.evidence();
                    return Err(e.context(evidence));
                }
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

    fn procs(&self) -> std::sync::MutexGuard<'_, Vec<Proc>> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Kills every component, clients first and etcd last.
    fn stop_all(&mut self) {
        let mut procs = self.procs();
        while let Some(mut p) = procs.pop() {
            p.kill();
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
        self.apiserver_port = pick_port()?;
        self.admin_kubeconfig = self.try_kubeconfig_for_user("admin", &["system:masters"])?;

        // etcd listens on unix sockets in the temp dir only: no TCP port of its can collide
        // with the API server's or anyone else's.
        let etcd_data = self.root.join("etcd-data");
        // Left over from an attempt that failed on a taken port.
        let _ = fs::remove_dir_all(&etcd_data);
        // etcd wants its URLs as host:port; with the `unix` scheme that names a socket file
        // (`etcd-client:0`) in the working directory, the temp dir for etcd and the API server.
        let client_sock = self.root.join("etcd-client:0");
        let peer_sock = self.root.join("etcd-peer:0");
        for sock in [&client_sock, &peer_sock] {
            let _ = fs::remove_file(sock);
        }
        let client_url = "unix://etcd-client:0".to_string();
        let peer_url = "unix://etcd-peer:0".to_string();
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
            Ok(unix_http_get(&client_sock, "/health")?.contains("\"health\":\"true\""))
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
    fn wait_for_lease(&self, name: &'static str) -> Result<()> {
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
        let proc = Proc::spawn(&self.bin_dir.join(name), name, args, &self.root)?;
        self.procs().push(proc);
        Ok(())
    }

    /// Poll `ready` until it returns true; fail early if `name` exited, and
    /// fail after [`START_TIMEOUT`].
    fn wait_until(&self, name: &'static str, ready: impl Fn(&Self) -> Result<bool>) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last_err = String::new();
        loop {
            match ready(self) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => last_err = format!("{e:#}"),
            }
            let mut procs = self.procs();
            let proc = procs
                .iter_mut()
                .find(|p| p.name == name)
                .context("component was never spawned")?;
            if let Some(status) = proc.exited() {
                bail!(
                    "{name} exited during startup ({status}); last lines of {}:\n{}",
                    proc.log.display(),
                    crate::process::log_tail(&proc.log, 40)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} not ready after {}s (last probe error: {last_err})",
                    START_TIMEOUT.as_secs()
                );
            }
            drop(procs);
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// What every component is doing (running, or exited with which status) and the tail
    /// of its log; also marks the temp dir to be kept, and says where it is. Printed when a
    /// harness call fails or the test panics; call it yourself when a test sees a server
    /// behave oddly.
    pub fn evidence(&self) -> String {
        self.keep.store(true, Ordering::SeqCst);
        let mut out = format!(
            "pg-testenv: components of the cluster in {} (kept after the test):\n",
            self.root.display()
        );
        for p in self.procs().iter_mut() {
            out.push_str(&p.report(EVIDENCE_LINES));
        }
        out
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

    /// Kill kube-apiserver (the rest keeps running), so tests can exercise
    /// "API server unreachable" errors. Its port stays bound, not listening, until the
    /// cluster is dropped: clients get "connection refused", never another test's server.
    /// Idempotent.
    pub fn stop_apiserver(&mut self) {
        let stopped = {
            let mut procs = self.procs();
            procs
                .iter()
                .position(|p| p.name == "kube-apiserver")
                .map(|i| procs.remove(i))
        };
        if let Some(mut p) = stopped {
            p.kill();
            let held = HeldPort::hold(self.apiserver_port)
                .unwrap_or_else(|e| panic!("{e:#}\n{}", self.evidence()));
            self.held.push(held);
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // libtest shows this with the failed test's output.
            eprintln!("{}", self.evidence());
        }
        self.stop_all();
        self.held.clear();
        let keep = self.keep.load(Ordering::SeqCst)
            || std::env::var_os("PRIORITYGUARD_KEEP_TESTENV").is_some_and(|v| v == "1");
        if let Some(dir) = self.dir.take()
            && keep
        {
            eprintln!("pg-testenv: keeping {}", dir.keep().display());
        }
        // Otherwise TempDir's own Drop removes it.
    }
}

/// Minimal HTTP/1.0 GET over a unix socket (for etcd's /health).
fn unix_http_get(socket: &Path, path: &str) -> Result<String> {
    let mut s = UnixStream::connect(socket)
        .with_context(|| format!("connecting to {}", socket.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}
