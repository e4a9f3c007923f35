//! `serve --metrics` against a real kube-apiserver (pg-testenv): the binary's /metrics follows
//! the cluster (a fixed Multus DaemonSet's series goes, a new offending workload's comes and
//! goes), the read-only audit role is enough, no rights is one line and exit 2, and the
//! manifests in deploy/ apply and meet the `restricted` Pod Security Standard.

mod common;
use common::*;
use pg_testenv::{Options, TestCluster};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const AUDIT_ROLE: &str = "docs/rbac/audit-clusterrole.yaml";

/// A running `priorityguard serve`, killed when dropped (also when the test panics).
struct Served {
    child: Child,
    addr: SocketAddr,
    /// stderr lines, as the reader thread forwards them.
    stderr: mpsc::Receiver<String>,
}

impl Served {
    /// Starts `serve --metrics --listen 127.0.0.1:0` with `kubeconfig` and waits for the line
    /// that names the port.
    fn start(kubeconfig: &Path, extra: &[&str]) -> Result<Served, (ExitStatus, Vec<String>)> {
        let mut child = spawn_serve(kubeconfig, extra);
        let stderr = stderr_lines(&mut child);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        while let Ok(line) = stderr.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some(url) = line.strip_prefix("priorityguard: serving metrics on http://") {
                let addr = url
                    .strip_suffix("/metrics")
                    .expect("…/metrics")
                    .parse()
                    .unwrap();
                return Ok(Served {
                    child,
                    addr,
                    stderr,
                });
            }
            seen.push(line);
        }
        let status = wait_bounded(&mut child, Duration::from_secs(30));
        seen.extend(stderr.iter());
        Err((status, seen))
    }

    fn get(&self, path: &str) -> Response {
        http_get(self.addr, path)
    }

    /// Waits (bounded) for /readyz to answer 200.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.get("/readyz").status != 200 {
            assert!(Instant::now() < deadline, "not ready after 60 s");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn scrape(&self) -> Vec<Sample> {
        let resp = self.get("/metrics");
        assert_eq!(resp.status, 200);
        parse_exposition(&resp.body)
    }

    /// Scrapes until `done` holds (at most 30 s), and returns that scrape.
    fn scrape_until(&self, what: &str, done: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let samples = self.scrape();
            if done(&samples) {
                return samples;
            }
            assert!(Instant::now() < deadline, "{what}: not within 30 s");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// SIGTERM, then the exit status and the rest of stderr.
    fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(kill.success());
        self.wait()
    }

    /// Waits (bounded) for the process to exit; its status and the rest of stderr.
    fn wait(&mut self) -> (ExitStatus, Vec<String>) {
        let status = wait_bounded(&mut self.child, Duration::from_secs(30));
        // The reader thread ends at the pipe's end, which the exit has closed.
        (status, self.stderr.iter().collect())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_serve(kubeconfig: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_priorityguard"))
        .args([
            "serve",
            "--metrics",
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig",
        ])
        .arg(kubeconfig)
        .args(extra)
        .env_remove("KUBECONFIG")
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs")
}

fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            eprintln!("serve: {line}");
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Response {
    status: u16,
    content_type: String,
    body: String,
}

/// A plain HTTP/1.0 GET (one request per connection, no chunking).
fn http_get(addr: SocketAddr, path: &str) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a header and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let content_type = lines
        .filter_map(|l| l.split_once(": "))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map_or(String::new(), |(_, v)| v.to_string());
    Response {
        status,
        content_type,
        body: body.to_string(),
    }
}

/// One line of the text exposition format.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition format: `name{label="value",...} value`, label values with
/// `\\`, `\"` and `\n` escapes, in whatever order the encoder writes them.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let name_end = line.find(['{', ' ']).expect("a name");
        let name = line[..name_end].to_string();
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(mut inner) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = inner.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let inner_after_comma = inner.strip_prefix(',').unwrap_or(inner);
                let (key, after) = inner_after_comma.split_once("=\"").expect("label=\"");
                let mut value = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    match chars.next().expect("a closing quote") {
                        (i, '"') => break i,
                        (_, '\\') => match chars.next().unwrap().1 {
                            'n' => value.push('\n'),
                            c => value.push(c),
                        },
                        (_, c) => value.push(c),
                    }
                };
                labels.insert(key.to_string(), value);
                inner = &after[end + 1..];
            }
        }
        let value = rest
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// The value of the one series `name{labels}` (labels given in any order), if present.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
}

fn finding<'a>(
    check: &'a str,
    ns: &'a str,
    kind: &'a str,
    name: &'a str,
) -> [(&'a str, &'a str); 5] {
    [
        ("check", check),
        ("severity", "error"),
        ("namespace", ns),
        ("kind", kind),
        ("name", name),
    ]
}

const MULTUS: [(&str, &str); 5] = [
    ("check", "critical-without-priority"),
    ("severity", "error"),
    ("namespace", "kube-system"),
    ("kind", "DaemonSet"),
    ("name", "kube-multus-ds"),
];

/// `(check, severity, ns/Kind/name)` of every findings series, as `finding_keys` names
/// `audit -o json`'s findings.
fn series_keys(samples: &[Sample]) -> BTreeSet<(String, String, String)> {
    samples
        .iter()
        .filter(|s| s.name == "priorityguard_findings")
        .map(|s| {
            let l = &s.labels;
            (
                l["check"].clone(),
                l["severity"].clone(),
                format!("{}/{}/{}", l["namespace"], l["kind"], l["name"]),
            )
        })
        .collect()
}

fn apply_multus(cluster: &TestCluster) {
    cluster.kubectl_ok(
        &["apply", "-f", &upstream("multus-cni/multus-daemonset.yml")],
        None,
    );
}

#[test]
fn cluster_serve_metrics_follow_fixes_and_new_workloads() {
    pg_testenv::require_cluster!();
    let mut cluster = TestCluster::start(Options::default()).unwrap();
    apply_multus(&cluster);
    let served = Served::start(cluster.kubeconfig_path(), &[]).unwrap_or_else(|e| panic!("{e:?}"));
    served.wait_ready();

    assert_eq!(served.get("/healthz").status, 200);
    assert_eq!(served.get("/nothing-here").status, 404);
    let resp = served.get("/metrics");
    assert_eq!(
        resp.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(resp.body.contains("# TYPE priorityguard_findings gauge\n"));
    let before = parse_exposition(&resp.body);
    assert_eq!(
        value(&before, "priorityguard_findings", &MULTUS),
        Some(1.0),
        "{}",
        resp.body
    );
    for kind in [
        "PriorityClass",
        "ResourceQuota",
        "DaemonSet",
        "Pod",
        "CronJob",
    ] {
        let synced = value(&before, "priorityguard_watch_synced", &[("kind", kind)]);
        assert_eq!(synced, Some(1.0), "{kind}");
    }
    assert_eq!(
        value(&before, "priorityguard_objects", &[("kind", "DaemonSet")]),
        Some(1.0)
    );
    let classes = value(
        &before,
        "priorityguard_objects",
        &[("kind", "PriorityClass")],
    )
    .unwrap();
    assert!(classes >= 2.0, "the built-in classes are listed: {classes}");
    let evaluations = value(&before, "priorityguard_evaluations_total", &[]).unwrap();

    // The fix: the series goes at the next evaluation.
    cluster.set_template_class(
        "daemonset/kube-multus-ds",
        "kube-system",
        "system-node-critical",
    );
    let fixed = served.scrape_until("the Multus series disappears", |s| {
        value(s, "priorityguard_findings", &MULTUS).is_none()
    });
    assert!(value(&fixed, "priorityguard_evaluations_total", &[]).unwrap() > evaluations);
    assert!(
        value(
            &fixed,
            "priorityguard_last_evaluation_timestamp_seconds",
            &[]
        )
        .is_some()
    );

    // A new offending workload appears, and goes again when deleted.
    let coredns = finding("critical-without-priority", "apps", "Deployment", "coredns");
    cluster.kubectl_ok(&["create", "namespace", "apps"], None);
    cluster.kubectl_ok(
        &[
            "create",
            "deployment",
            "coredns",
            "-n",
            "apps",
            "--image=registry.k8s.io/coredns/coredns:v1.12.0",
        ],
        None,
    );
    let with = served.scrape_until("the CoreDNS series appears", |s| {
        value(s, "priorityguard_findings", &coredns) == Some(1.0)
    });
    assert_eq!(
        value(&with, "priorityguard_objects", &[("kind", "Deployment")]),
        Some(1.0)
    );
    cluster.kubectl_ok(&["delete", "deployment", "coredns", "-n", "apps"], None);
    let without = served.scrape_until("the CoreDNS series disappears", |s| {
        value(s, "priorityguard_findings", &coredns).is_none()
    });
    assert_eq!(
        value(&without, "priorityguard_objects", &[("kind", "Deployment")]),
        Some(0.0)
    );

    // After the start, losing the API server is logged and retried; the last findings stay.
    let other = finding("critical-without-priority", "apps", "Deployment", "dns");
    cluster.kubectl_ok(
        &[
            "create",
            "deployment",
            "dns",
            "-n",
            "apps",
            "--image=registry.k8s.io/coredns/coredns:v1.12.0",
        ],
        None,
    );
    let before_outage = served.scrape_until("the second CoreDNS series appears", |s| {
        value(s, "priorityguard_findings", &other) == Some(1.0)
    });
    cluster.stop_apiserver();
    let deadline = Instant::now() + Duration::from_secs(30);
    let warning = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = served
            .stderr
            .recv_timeout(left)
            .expect("a warning within 30 s");
        if line.contains("warning: watching") {
            break line;
        }
    };
    assert!(
        warning.contains("cannot reach the API server") && warning.ends_with("; retrying"),
        "{warning}"
    );
    assert_eq!(served.get("/healthz").status, 200);
    assert_eq!(served.get("/readyz").status, 200);
    let stale = served.scrape();
    assert_eq!(series_keys(&stale), series_keys(&before_outage));
    assert_eq!(value(&stale, "priorityguard_findings", &other), Some(1.0));
    let errors: f64 = stale
        .iter()
        .filter(|s| s.name == "priorityguard_watch_errors_total")
        .map(|s| s.value)
        .sum();
    assert!(errors >= 1.0, "the failures are counted");

    // SIGTERM: a clean exit.
    let (status, rest) = served.terminate();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(
        rest.iter().any(|l| l == "priorityguard: stopping"),
        "{rest:?}"
    );
}

#[test]
fn cluster_serve_with_the_audit_role_and_without_rights() {
    pg_testenv::require_cluster!();
    let cluster = TestCluster::start(Options::default()).unwrap();
    apply_multus(&cluster);
    cluster.kubectl_ok(
        &[
            "apply",
            "-f",
            &repo_root().join(AUDIT_ROLE).display().to_string(),
        ],
        None,
    );

    // A user bound only to the read-only role (through its group) serves the same findings
    // `audit --cluster` reports as the admin.
    let auditor = cluster.kubeconfig_for_user("alice", &["priorityguard-auditors"]);
    let served = Served::start(&auditor, &[]).unwrap_or_else(|e| panic!("{e:?}"));
    served.wait_ready();
    let samples = served.scrape();
    assert_eq!(
        value(&samples, "priorityguard_findings", &MULTUS),
        Some(1.0)
    );
    let kc = cluster.kubeconfig_path().display().to_string();
    let audit = priorityguard(&["audit", "--cluster", "--kubeconfig", &kc, "-o", "json"]);
    let expected: BTreeSet<_> = finding_keys(&json(&audit)).into_iter().collect();
    assert_eq!(series_keys(&samples), expected);
    for kind in ["PriorityClass", "Pod"] {
        let errors = value(
            &samples,
            "priorityguard_watch_errors_total",
            &[("kind", kind)],
        );
        assert_eq!(errors, Some(0.0), "{kind}: list and watch are allowed");
    }
    drop(served);

    // No rights at all: the one line `audit --cluster` prints, and exit code 2.
    let nobody = cluster.kubeconfig_for_user("nobody", &[]);
    let out = priorityguard(&[
        "audit",
        "--cluster",
        "--kubeconfig",
        &nobody.display().to_string(),
    ]);
    let audit_error = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
    assert!(
        audit_error.starts_with("priorityguard: error: forbidden (403)"),
        "{audit_error}"
    );
    // The address is printed first (the server listens while the watches start); then the
    // watches' 403s end it.
    let (status, lines) = match Served::start(&nobody, &[]) {
        Ok(mut served) => served.wait(),
        Err(failed) => panic!("the address line is printed first: {failed:?}"),
    };
    assert_eq!(status.code(), Some(2), "{lines:?}");
    assert_eq!(lines, [audit_error], "one line, the same as audit's");

    // No API server at the start: one line and exit code 2 too.
    let mut cluster = cluster;
    cluster.stop_apiserver();
    let (status, lines) = match Served::start(cluster.kubeconfig_path(), &[]) {
        Ok(mut served) => served.wait(),
        Err(failed) => panic!("the address line is printed first: {failed:?}"),
    };
    assert_eq!(status.code(), Some(2), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0]
            .starts_with("priorityguard: error: cannot reach the API server https://127.0.0.1:"),
        "{lines:?}"
    );
}

#[test]
fn cluster_serve_deploy_manifests_apply_and_are_restricted() {
    pg_testenv::require_cluster!();
    let cluster = TestCluster::start(Options::default()).unwrap();
    let file = |rel: &str| repo_root().join(rel).display().to_string();
    // A server-side dry run cannot create the namespace for the objects in it.
    cluster.kubectl_ok(&["apply", "-f", &file("deploy/namespace.yaml")], None);
    let (role, ns, serve) = (
        file(AUDIT_ROLE),
        file("deploy/namespace.yaml"),
        file("deploy/serve/"),
    );
    let args = [
        "apply",
        "--dry-run=server",
        "-f",
        &role,
        "-f",
        &ns,
        "-f",
        &serve,
    ];
    let out = cluster.kubectl_ok(&args, None);
    for created in [
        "serviceaccount/priorityguard created (server dry run)",
        "clusterrolebinding.rbac.authorization.k8s.io/priorityguard-serve created (server dry run)",
        "clusterrole.rbac.authorization.k8s.io/priorityguard-serve-simulate created (server dry run)",
        "clusterrolebinding.rbac.authorization.k8s.io/priorityguard-serve-simulate created (server dry run)",
        "deployment.apps/priorityguard created (server dry run)",
        "service/priorityguard created (server dry run)",
    ] {
        assert!(out.contains(created), "{out}");
    }
    assert!(
        !out.contains("servicemonitor"),
        "the CRD-dependent file stays out: {out}"
    );
    cluster.kubectl_ok(&["apply", "-f", &role, "-f", &ns, "-f", &serve], None);

    // The ServiceAccount's token serves, through the binding in deploy/serve/.
    apply_multus(&cluster);
    let token = cluster.kubectl_ok(
        &["create", "token", "priorityguard", "-n", "priorityguard"],
        None,
    );
    let kubeconfig = token_kubeconfig(&cluster, token.trim());
    let served = Served::start(&kubeconfig, &[]).unwrap_or_else(|e| panic!("{e:?}"));
    served.wait_ready();
    assert_eq!(
        value(&served.scrape(), "priorityguard_findings", &MULTUS),
        Some(1.0)
    );
    // The dashboard's simulation may list what it reads (nodes, PodDisruptionBudgets).
    let page = served.get("/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("kube-multus-ds"), "{}", page.body);
    assert!(!page.body.contains("No picture"), "{}", page.body);
    drop(served);

    // The pod template passes the `restricted` Pod Security Standard without warnings, and
    // its args are a valid command line.
    let deployment: serde_json::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(file("deploy/serve/deployment.yaml")).unwrap(),
    )
    .unwrap();
    let spec = &deployment["spec"]["template"]["spec"];
    cluster.kubectl_ok(&["create", "namespace", "restricted"], None);
    cluster.kubectl_ok(
        &[
            "label",
            "namespace",
            "restricted",
            "pod-security.kubernetes.io/enforce=restricted",
        ],
        None,
    );
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "priorityguard", "namespace": "restricted"},
        "spec": spec,
    });
    let out = cluster.kubectl_with(
        cluster.kubeconfig_path(),
        &["apply", "--dry-run=server", "-f", "-"],
        Some(&pod.to_string()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("Warning"), "{stderr}");
    let container = &spec["containers"][0];
    let mut argv = vec!["priorityguard"];
    argv.extend(
        container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap()),
    );
    pg_cli::parse_for_tests(&argv).expect("the Deployment's args parse");
    assert_eq!(argv[1..4], ["serve", "--metrics", "--listen"]);
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    // Every interface, not serve's loopback default: Prometheus scrapes the pod's IP.
    assert_eq!(argv[4], format!("0.0.0.0:{port}"), "{argv:?}");

    // The ServiceMonitor selects the Service by its labels and port name.
    let read = |rel: &str| -> serde_json::Value {
        serde_yaml_ng::from_str(&std::fs::read_to_string(file(rel)).unwrap()).unwrap()
    };
    let service = read("deploy/serve/service.yaml");
    let monitor = read("deploy/serve/prometheus-operator/servicemonitor.yaml");
    let wanted = monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap();
    for (k, v) in wanted {
        assert_eq!(&service["metadata"]["labels"][k], v, "{k}");
    }
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        service["spec"]["ports"][0]["name"]
    );
    assert_eq!(
        service["metadata"]["annotations"]["prometheus.io/port"],
        port.to_string()
    );
}

/// A kubeconfig holding a bearer token, as a pod's service account presents it.
fn token_kubeconfig(cluster: &TestCluster, token: &str) -> std::path::PathBuf {
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testenv", "cluster": {
            "server": cluster.server_url(),
            "certificate-authority": cluster.work_dir().join("pki/ca.crt"),
        }}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "testenv", "user": "sa"}}],
        "current-context": "sa",
    });
    let path = cluster.work_dir().join("serve-token.json");
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    path
}
