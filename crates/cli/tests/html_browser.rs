//! `audit -o html` and `serve`'s dashboard in a real browser: Debian's `chromium`, headless
//! (installed by scripts/install-deps). What a user must see is asserted on the DOM Chromium
//! builds (`--dump-dom`, after the page's script ran): the Multus row at risk with
//! `system-node-critical` recommended, the eviction chart of its node. Screenshots at desktop
//! (1280x900) and phone (390x844) widths must not be blank. The page may print nothing on the
//! console (Chromium logs console messages and CSP violations on stderr with
//! `--enable-logging=stderr`), and no request the page makes may go anywhere but 127.0.0.1
//! (Chromium's net log; every host name resolves to nothing but 127.0.0.1). The checks
//! themselves are tested on a page that breaks both rules.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SEED_SNAPSHOT: &str = "crates/simulate/tests/data/seed-outage/snapshot.json";

/// Names no API server would accept, but a file can hold: they must reach the page as text.
const HOSTILE: &str = r#"apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: "x\"><img src=x onerror=alert(1)>"
  namespace: "<script>alert(2)</script>"
spec:
  selector: {matchLabels: {app: m}}
  template:
    metadata: {labels: {app: m}}
    spec:
      containers:
        - name: kube-multus
          image: ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot
"#;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
}

/// What one headless Chromium run left behind.
struct Run {
    stdout: String,
    /// Console messages (including CSP violations) the page caused.
    console: Vec<String>,
    /// URLs the page asked for that are neither `file:` nor on 127.0.0.1.
    outside: Vec<String>,
    /// Every URL the page asked for.
    requests: Vec<String>,
}

struct Browser {
    bin: PathBuf,
    dir: tempfile::TempDir,
    runs: usize,
}

impl Browser {
    fn new(bin: PathBuf) -> Browser {
        Browser {
            bin,
            dir: tempfile::tempdir().unwrap(),
            runs: 0,
        }
    }

    /// Runs `chromium --headless` on `url` with `extra` (`--dump-dom`, `--screenshot=...`),
    /// a fresh profile, no route to anything but 127.0.0.1, the console on stderr and a net
    /// log.
    fn run(&mut self, url: &str, extra: &[&str]) -> Run {
        self.runs += 1;
        let profile = self.dir.path().join(format!("profile-{}", self.runs));
        let net_log = self.dir.path().join(format!("net-{}.json", self.runs));
        let mut child = Command::new(&self.bin)
            .args([
                "--headless",
                // Chromium's sandbox refuses to run as root (the test machines' user).
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--log-net-log={}", net_log.display()))
            .args(extra)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
        let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
        let deadline = Instant::now() + Duration::from_secs(180);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("chromium did not finish on {url}");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
        assert!(status.success(), "chromium on {url}: {status}\n{stderr}");
        let console = stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_string)
            .collect();
        let requests = page_requests(&net_log);
        let outside = requests
            .iter()
            .filter(|url| {
                !(url.starts_with("file:")
                    || url.starts_with("http://127.0.0.1:")
                    || url.starts_with("ws://127.0.0.1:"))
            })
            .cloned()
            .collect();
        Run {
            stdout,
            console,
            outside,
            requests,
        }
    }
}

/// The URLs of the requests a page started (Chromium's own background requests have the
/// initiator "not an origin").
fn page_requests(net_log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(net_log).expect("chromium wrote its net log");
    let log: serde_json::Value = serde_json::from_str(&text).expect("net log is JSON");
    let start_job = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    assert!(start_job.is_u64(), "net log has URL_REQUEST_START_JOB");
    let mut urls = Vec::new();
    for event in log["events"].as_array().unwrap() {
        if &event["type"] != start_job {
            continue;
        }
        let params = &event["params"];
        if params["initiator"] == "not an origin" {
            continue;
        }
        // (The job's end event has no URL.)
        let Some(url) = params["url"].as_str() else {
            continue;
        };
        urls.push(url.to_string());
    }
    urls
}

/// Decodes a screenshot and returns its size and number of distinct colours.
fn screenshot_colours(path: &Path) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("screenshot written"),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let step = info.color_type.samples() * usize::from(info.bit_depth as u8 / 8).max(1);
    let colours: std::collections::HashSet<&[u8]> = bytes.chunks(step).collect();
    (info.width, info.height, colours.len())
}

fn assert_screenshots(browser: &mut Browser, url: &str, what: &str) {
    for (w, h) in [(1280, 900), (390, 844)] {
        let shot = browser.dir.path().join(format!("{what}-{w}x{h}.png"));
        let run = browser.run(
            url,
            &[
                &format!("--screenshot={}", shot.display()),
                &format!("--window-size={w},{h}"),
            ],
        );
        assert_eq!(run.console, Vec::<String>::new(), "{what} at {w}x{h}");
        assert_eq!(run.outside, Vec::<String>::new(), "{what} at {w}x{h}");
        let (width, height, colours) = screenshot_colours(&shot);
        assert_eq!((width, height), (w, h), "{what} screenshot size");
        // Text, tables and the red/green chart: a blank page has one colour.
        assert!(colours > 20, "{what} at {w}x{h}: {colours} colours");
    }
}

/// The `<tr>` of the components table whose object is `object`.
fn component_row<'a>(dom: &'a str, object: &str) -> &'a str {
    let start = dom
        .find(&format!("data-object=\"{object}\""))
        .unwrap_or_else(|| panic!("no component row for {object}:\n{dom}"));
    let row_start = dom[..start].rfind("<tr").unwrap();
    let end = start + dom[start..].find("</tr>").unwrap();
    &dom[row_start..end]
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn the_checks_catch_console_messages_and_outside_requests() {
    let Some(bin) = chromium() else {
        pg_testenv::skip!("chromium is not installed; scripts/install-deps installs it");
    };
    let mut browser = Browser::new(bin);
    let page = browser.dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>bad</p><script>console.error('boom');\
         fetch('http://example.com/x').catch(function () {});</script></body></html>",
    )
    .unwrap();
    let run = browser.run(&file_url(&page), &["--dump-dom"]);
    assert!(run.stdout.contains("<p>bad</p>"), "{}", run.stdout);
    assert!(
        run.console.iter().any(|l| l.contains("boom")),
        "{:?}",
        run.console
    );
    assert_eq!(run.outside, ["http://example.com/x"]);
}

#[test]
fn html_report_in_a_real_browser() {
    let Some(bin) = chromium() else {
        pg_testenv::skip!("chromium is not installed; scripts/install-deps installs it");
    };
    let mut browser = Browser::new(bin);
    let hostile = browser.dir.path().join("hostile.yaml");
    std::fs::write(&hostile, HOSTILE).unwrap();
    let snapshot = repo_root().join(SEED_SNAPSHOT);
    let out = priorityguard(&[
        "audit",
        "-o",
        "html",
        snapshot.to_str().unwrap(),
        hostile.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = String::from_utf8(out.stdout).unwrap();
    let report = browser.dir.path().join("report.html");
    std::fs::write(&report, &html).unwrap();
    // Self-contained: nothing to fetch, and a policy that would refuse it anyway.
    assert!(html.contains("content=\"default-src 'none';"), "{html}");
    for fetch in ["src=\"http", "href=\"http", "url(", "@import"] {
        assert!(!html.contains(fetch), "{fetch} in the page");
    }

    let url = file_url(&report);
    let run = browser.run(&url, &["--dump-dom"]);
    assert_eq!(run.console, Vec::<String>::new());
    assert_eq!(run.outside, Vec::<String>::new());
    let dom = run.stdout;
    // The script ran (the CSP hash matches it) and showed the filter box.
    assert!(dom.contains("<html lang=\"en\" class=\"js\">"), "{dom}");
    assert!(dom.contains("<div id=\"tools\">"), "{dom}");

    // The Multus row: at risk, no class, system-node-critical recommended, where it is written.
    let multus = component_row(&dom, "kube-system/DaemonSet/kube-multus-ds");
    assert!(multus.contains(">at risk<"), "{multus}");
    assert!(multus.contains("Multus CNI"), "{multus}");
    assert!(multus.contains(">none<"), "{multus}");
    assert!(
        multus.contains("<code>system-node-critical</code>"),
        "{multus}"
    );
    assert!(multus.contains("snapshot.json:132:9"), "{multus}");
    let proxy = component_row(&dom, "kube-system/DaemonSet/kube-proxy");
    assert!(proxy.contains(">protected<"), "{proxy}");
    // Its finding, linked to the row, with the file:line and the simulated risk.
    assert!(
        dom.contains("<td class=\"sev-error\" data-label=\"Severity\" data-sort=\"1\">error</td>"),
        "{dom}"
    );
    assert!(dom.contains("snapshot.json:155:21"), "{dom}");
    assert!(
        dom.contains("risk: evicted 1st-5th of 10 under memory pressure on node-a"),
        "{dom}"
    );

    // The eviction picture of node-a: Multus evictable before (red), immune after (green),
    // and its OOM score going from 994 to -997.
    let eviction = &dom[dom
        .find("<section id=\"eviction\">")
        .expect("eviction section")..];
    assert!(
        eviction.contains("<h3>Node <code>node-a</code></h3>"),
        "{eviction}"
    );
    assert!(eviction.contains("<svg"), "{eviction}");
    assert!(
        eviction.contains("class=\"crit\"></rect><text x=\"26\" y=\"91\">1st-5th  kube-system/kube-multus-ds-7xk2p"),
        "{eviction}"
    );
    assert!(
        eviction.contains("class=\"safe\"></rect><text x=\"566\"")
            && eviction.contains("kube-system/kube-multus-ds-7xk2p  (priority 2000001000)"),
        "{eviction}"
    );
    assert!(
        eviction.contains("<code>kube-multus</code></td><td data-label=\"Component\">Multus CNI</td><td class=\"num status-risk\" data-label=\"Before\">994</td><td class=\"num status-ok\" data-label=\"After\">-997</td>"),
        "{eviction}"
    );

    // Hostile names are text: the page holds one script (its own) and no image.
    assert_eq!(dom.matches("<script").count(), 1, "{dom}");
    assert!(!dom.contains("<img"), "{dom}");
    let hostile_object = "&lt;script&gt;alert(2)&lt;/script&gt;/DaemonSet/x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;";
    let row = component_row(&dom, hostile_object);
    assert!(row.contains(">at risk<"), "{row}");

    // ?q= filters the tables (rows that do not match are hidden), ?sort= sorts them.
    let run = browser.run(&format!("{url}?q=multus-ds"), &["--dump-dom"]);
    assert_eq!(run.console, Vec::<String>::new());
    let filtered = run.stdout;
    assert!(!component_row(&filtered, "kube-system/DaemonSet/kube-multus-ds").contains("hidden"));
    assert!(component_row(&filtered, "kube-system/DaemonSet/kube-proxy").contains("hidden=\"\""));
    assert!(filtered.contains("rows match</span>"), "{filtered}");
    let run = browser.run(&format!("{url}?sort=-workload"), &["--dump-dom"]);
    assert_eq!(run.console, Vec::<String>::new());
    let sorted = run.stdout;
    let order: Vec<usize> = [
        "kube-system/ReplicaSet/coredns-5d78c9869d",
        "kube-system/DaemonSet/kube-proxy",
        "kube-system/DaemonSet/kube-multus-ds",
        hostile_object,
    ]
    .iter()
    .map(|o| sorted.find(&format!("data-object=\"{o}\"")).unwrap())
    .collect();
    assert!(order.is_sorted(), "descending by workload: {order:?}");
    assert!(sorted.contains("aria-sort=\"descending\""), "{sorted}");

    assert_screenshots(&mut browser, &url, "report");
}

/// A GET on 127.0.0.1: the status and the body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// A running `priorityguard serve`, killed when dropped.
struct Served {
    child: std::process::Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(kubeconfig: &Path) -> Served {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_priorityguard"))
        .args([
            "serve",
            "--metrics",
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig",
        ])
        .arg(kubeconfig)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            eprintln!("serve: {line}");
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("serve names its dashboard");
        if let Some(url) = line.strip_prefix("priorityguard: dashboard on http://") {
            break url.trim_end_matches('/').to_string();
        }
    };
    let served = Served { child, addr };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(&served.addr, "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "not ready after 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    served
}

/// The seed's cluster (crates/simulate/tests/data/seed-outage): node-a full of ordinary pods
/// and a Multus pod without a class, in a real kube-apiserver; `audit --cluster -o html` and
/// `serve`'s dashboard show its row and node-a's eviction picture, and the dashboard follows
/// the cluster.
#[test]
fn cluster_html_report_and_dashboard_in_a_real_browser() {
    pg_testenv::require_cluster!();
    let Some(bin) = chromium() else {
        pg_testenv::skip!("chromium is not installed; scripts/install-deps installs it");
    };
    let mut browser = Browser::new(bin);
    let cluster = pg_testenv::TestCluster::start(pg_testenv::Options::default()).unwrap();
    cluster.create_fake_node("node-a", "4", "8Gi", "110");
    let seed = repo_root().join("crates/simulate/tests/data/seed-outage/cluster.yaml");
    cluster.kubectl_ok(&["create", "-f", seed.to_str().unwrap()], None);
    let kubeconfig = cluster.kubeconfig_path();

    // audit --cluster -o html: the same page, the picture from the live nodes.
    let out = priorityguard(&[
        "audit",
        "--cluster",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "-o",
        "html",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = browser.dir.path().join("cluster.html");
    std::fs::write(&report, &out.stdout).unwrap();
    let run = browser.run(&file_url(&report), &["--dump-dom"]);
    assert_eq!(run.console, Vec::<String>::new());
    assert_eq!(run.outside, Vec::<String>::new());
    assert_seed_picture(&run.stdout);

    // The dashboard.
    let served = serve(kubeconfig);
    let url = format!("http://{}/", served.addr);
    // Long enough (in the browser's virtual time) for the script to poll /generation.
    let run = browser.run(&url, &["--dump-dom", "--virtual-time-budget=5000"]);
    assert_eq!(run.console, Vec::<String>::new());
    assert_eq!(run.outside, Vec::<String>::new());
    let dom = run.stdout;
    assert_seed_picture(&dom);
    assert!(dom.contains("<body data-generation=\"1\">"), "{dom}");
    assert!(dom.contains("<p id=\"live\""), "{dom}");
    // The script polls the evaluation number (the CSP lets it, and only there).
    let poll = format!("http://{}/generation", served.addr);
    assert!(run.requests.contains(&poll), "{:?}", run.requests);
    // No secret reaches the page: not the kubeconfig's path, nor its credentials.
    let config = std::fs::read_to_string(kubeconfig).unwrap();
    for line in config.lines() {
        if let Some((key, value)) = line.trim().split_once(": ")
            && [
                "token",
                "client-key-data",
                "client-certificate-data",
                "password",
            ]
            .contains(&key)
        {
            assert!(!dom.contains(value.trim()), "{key} in the page");
        }
    }
    assert!(!dom.contains(kubeconfig.to_str().unwrap()), "{dom}");
    assert_screenshots(&mut browser, &url, "dashboard");

    // The cluster changes: Multus goes. /generation moves on, and the page of that
    // evaluation no longer lists it.
    let multus_pod = "kube-multus-ds-7xk2p";
    cluster.kubectl_ok(
        &[
            "delete",
            "pod",
            "-n",
            "kube-system",
            multus_pod,
            "--grace-period=0",
            "--force",
        ],
        None,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(&served.addr, "/generation").1.trim() == "1" {
        assert!(Instant::now() < deadline, "no new evaluation within 60 s");
        std::thread::sleep(Duration::from_millis(250));
    }
    let run = browser.run(&url, &["--dump-dom"]);
    assert_eq!(run.console, Vec::<String>::new());
    let dom = run.stdout;
    assert!(!dom.contains("<body data-generation=\"1\">"), "{dom}");
    assert!(!dom.contains(multus_pod), "{dom}");
    assert!(
        !dom.contains("data-object=\"kube-system/DaemonSet/kube-multus-ds\""),
        "{dom}"
    );
}

/// What a user must see about the seed's cluster: the Multus row at risk with
/// `system-node-critical` recommended, and node-a's eviction chart with Multus evictable
/// before and immune after.
fn assert_seed_picture(dom: &str) {
    assert!(dom.contains("<html lang=\"en\" class=\"js\">"), "{dom}");
    let multus = component_row(dom, "kube-system/DaemonSet/kube-multus-ds");
    assert!(multus.contains(">at risk<"), "{multus}");
    assert!(
        multus.contains("<code>system-node-critical</code>"),
        "{multus}"
    );
    let eviction = &dom[dom
        .find("<section id=\"eviction\">")
        .expect("eviction section")..];
    assert!(
        eviction.contains("<h3>Node <code>node-a</code></h3>"),
        "{eviction}"
    );
    assert!(
        eviction.contains("class=\"crit\"></rect><text x=\"26\" y=\"91\">1st-5th  kube-system/kube-multus-ds-7xk2p"),
        "{eviction}"
    );
    assert!(
        eviction.contains("kube-system/kube-multus-ds-7xk2p  (priority 2000001000)"),
        "{eviction}"
    );
}
