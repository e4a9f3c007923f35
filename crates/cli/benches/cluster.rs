//! `audit --cluster --all` against the seed pipeline `kubectl get pods -A -o json | jq ...`, on
//! a real kube-apiserver + etcd (pg-testenv) holding `PODS` pods (default 20,000). Each tool runs
//! `RUNS` times (default 5), interleaved; wall time from the whole command, peak RSS from GNU
//! time for every process (for the pipeline: kubectl's and jq's separately, and their sum).
//! Polaris 10.2.2 (`polaris audit --format json`, the cluster from `KUBECONFIG`), when
//! scripts/peers has built it, runs in the same rounds.
//!
//!     cargo bench -p pg-cli --bench cluster            # PODS=20000 RUNS=5 by default
//!
//! With `NODES=N` the pods are bound to `N` Node objects (`node-0`...), as a scheduled
//! cluster's are; `NODES=5000 PODS=150000` is the largest cluster Kubernetes supports.
//! `WARMUP=0` skips the untimed first run of each command (for the big sizes, where one run
//! of the pipeline takes minutes). After the rounds, `priorityguard serve --metrics` starts
//! against the same server: the time until it is ready (every kind listed, the first
//! evaluation published), its CPU time and peak RSS by then.
//!
//! With `FLEET=N` it measures many clusters in one run instead: three API servers with different
//! contents (`PODS` pods each, default 1,000, in 10 namespaces; Multus and a Deployment), `N`
//! kubeconfig contexts spread over them (each its own cluster, user and context entry, as
//! separate clusters' kubeconfigs are), and `priorityguard audit --cluster --all-contexts`
//! (default `--jobs`, and `--jobs 1`) against `N` sequential `kubectl --context C get pods -A
//! -o json | jq ...` pipelines. Wall, user+sys CPU and peak RSS from GNU time; requests from
//! the three API servers' own `apiserver_request_total` counters, read before and after.
//!
//!     FLEET=200 RUNS=3 cargo bench -p pg-cli --bench cluster

use pg_testenv::{Options, TestCluster};
use std::process::Command;
use std::time::Instant;

const SEED_JQ: &str = r#".items[] | select (.spec.priorityClassName == null) | "Namespace: " + .metadata.namespace + " Name: " + .metadata.name"#;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `script` in bash; returns wall seconds.
fn timed(script: &str) -> f64 {
    let start = Instant::now();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -o pipefail; {script}"))
        .output()
        .unwrap();
    let wall = start.elapsed().as_secs_f64();
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wall
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Some(contexts) = std::env::var("FLEET").ok().and_then(|v| v.parse().ok()) {
        return fleet::run(contexts, env_usize("PODS", 1_000), env_usize("RUNS", 3));
    }
    let pods = env_usize("PODS", 20_000);
    let nodes = env_usize("NODES", 0);
    let runs = env_usize("RUNS", 5);
    let warmup = env_usize("WARMUP", 1) > 0;
    let bin = env!("CARGO_BIN_EXE_priorityguard");
    let cluster = TestCluster::start(Options::default()).expect("test cluster");
    let kubectl = cluster.bin_dir().join("kubectl").display().to_string();
    let kc = cluster.kubeconfig_path().display().to_string();
    let dir = cluster.work_dir().to_path_buf();
    create_nodes(&cluster, nodes);
    create_pods(&cluster, pods, 20, 0, nodes);

    let (k_rss, j_rss, p_rss) = (dir.join("k.rss"), dir.join("j.rss"), dir.join("p.rss"));
    let seed = format!(
        "/usr/bin/time -f '{TIMES}' -o {k} {kubectl} --kubeconfig {kc} get pods -A -o json | /usr/bin/time -f '{TIMES}' -o {j} jq {q} > /dev/null",
        k = k_rss.display(),
        j = j_rss.display(),
        q = shell_quote(SEED_JQ)
    );
    let ours = format!(
        "/usr/bin/time -f '{TIMES}' -o {p} {bin} audit --cluster --kubeconfig {kc} --all -o json > /dev/null",
        p = p_rss.display()
    );
    let polaris_bin = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .map(|h| h.join(".cache/priorityguard/peers/polaris-10.2.2/bin/polaris"))
        .filter(|p| p.is_file());
    let pol_rss_file = dir.join("pol.rss");
    let polaris = polaris_bin.as_ref().map(|b| {
        format!(
            "KUBECONFIG={kc} /usr/bin/time -f '{TIMES}' -o {r} {b} audit --format json > /dev/null",
            r = pol_rss_file.display(),
            b = b.display()
        )
    });
    if polaris.is_none() {
        eprintln!("Polaris not found; run scripts/peers polaris for its row");
    }
    if warmup {
        timed(&seed);
        timed(&ours);
        if let Some(p) = &polaris {
            timed(p);
        }
    }
    let (mut seed_m, mut ours_m, mut pol_m) = (
        Measured::default(),
        Measured::default(),
        Measured::default(),
    );
    let (mut k_peak, mut j_peak) = (0u64, 0u64);
    for round in 0..runs {
        // 0 = the seed pipeline, 1 = priorityguard, 2 = Polaris; the first one rotates.
        for k in 0..3 {
            match (round + k) % 3 {
                0 => {
                    let wall = timed(&seed);
                    let (k, j) = (times(&k_rss), times(&j_rss));
                    k_peak = k_peak.max(k.2);
                    j_peak = j_peak.max(j.2);
                    seed_m.add(wall, k.1 + j.1, k.2 + j.2);
                }
                1 => {
                    let wall = timed(&ours);
                    let (_, cpu, rss) = times(&p_rss);
                    ours_m.add(wall, cpu, rss);
                }
                _ => {
                    if let Some(p) = &polaris {
                        let wall = timed(p);
                        let (_, cpu, rss) = times(&pol_rss_file);
                        pol_m.add(wall, cpu, rss);
                    }
                }
            }
        }
    }
    let nodes_text = if nodes > 0 {
        format!("{nodes} nodes, ")
    } else {
        String::new()
    };
    println!(
        "| command ({nodes_text}{pods} pods in the API server, {runs} runs) | median wall | median CPU (user+sys) | peak RSS |"
    );
    println!("|---|---:|---:|---:|");
    let (s, o) = (seed_m.row(), ours_m.row());
    println!(
        "| `kubectl get pods -A -o json \\| jq ...` | {:.2} s | {:.2} s | {} MiB (kubectl {} + jq {}) |",
        s.0,
        s.1,
        s.2 / 1024,
        k_peak / 1024,
        j_peak / 1024
    );
    println!(
        "| `priorityguard audit --cluster --all -o json` | {:.2} s | {:.2} s | {} MiB |",
        o.0,
        o.1,
        o.2 / 1024
    );
    println!(
        "| ratio | {:.1}x faster | {:.1}x less CPU | {:.1}x less memory |",
        s.0 / o.0,
        s.1 / o.1,
        s.2 as f64 / o.2 as f64
    );
    if !pol_m.wall.is_empty() {
        let p = pol_m.row();
        println!(
            "| `polaris audit --format json` (Polaris 10.2.2) | {:.2} s | {:.2} s | {} MiB |",
            p.0,
            p.1,
            p.2 / 1024
        );
        println!(
            "| priorityguard vs Polaris | {:.1}x faster | {:.1}x less CPU | {:.1}x less memory |",
            p.0 / o.0,
            p.1 / o.1,
            p.2 as f64 / o.2 as f64
        );
    }
    let served = serve_until_ready(bin, &kc);
    println!(
        "| `priorityguard serve --metrics` (default checks), until ready (first evaluation published) | {:.2} s | {:.2} s | {} MiB |",
        served.0,
        served.1,
        served.2 / 1024
    );
    println!("\nserve said: {}", served.3);
}

/// GNU time's format for [`times`]: wall, user and system seconds, peak RSS in KiB.
const TIMES: &str = "%e %U %S %M";

/// Wall seconds, user+sys CPU seconds and the peak RSS (KiB) GNU time wrote to `file` with
/// [`TIMES`] (its last line).
fn times(file: &std::path::Path) -> (f64, f64, u64) {
    let text = std::fs::read_to_string(file).unwrap();
    let f: Vec<&str> = text.trim().lines().last().unwrap().split(' ').collect();
    let n = |i: usize| f[i].parse::<f64>().unwrap();
    (n(0), n(1) + n(2), f[3].parse().unwrap())
}

/// One command's runs: wall and CPU seconds of each, the highest peak RSS (KiB).
#[derive(Default)]
struct Measured {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    rss: u64,
}

impl Measured {
    fn add(&mut self, wall: f64, cpu: f64, rss: u64) {
        self.wall.push(wall);
        self.cpu.push(cpu);
        self.rss = self.rss.max(rss);
    }

    /// Median wall, median CPU, peak RSS.
    fn row(&mut self) -> (f64, f64, u64) {
        (median(&mut self.wall), median(&mut self.cpu), self.rss)
    }
}

/// Starts `serve --metrics` on a free port and waits for its `ready:` line: wall seconds until
/// then, the CPU seconds and peak RSS (KiB) the process had used by then, and the line.
fn serve_until_ready(bin: &str, kc: &str) -> (f64, f64, u64, String) {
    use std::io::BufRead;
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--metrics",
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig",
            kc,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start priorityguard serve");
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut ready = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("ready:") {
            ready = Some(line);
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let ready = ready.expect("serve --metrics stopped before it was ready");
    let pid = child.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    // utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks (after the
    // parenthesised command name, which cannot hold a space here).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit(") ").next().unwrap().split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    child.wait().unwrap();
    (wall, ticks / hz, hwm, ready)
}

/// Creates `nodes` Node objects (`node-0`...), each with a 5,000-node cluster's typical
/// capacity, so pods can be bound to them.
fn create_nodes(cluster: &TestCluster, nodes: usize) {
    create_items(cluster, "nodes", nodes, 500, |i| {
        format!(
            "- apiVersion: v1\n  kind: Node\n  metadata:\n    name: node-{i}\n    labels: {{kubernetes.io/hostname: node-{i}, kubernetes.io/os: linux}}\n  status:\n    capacity: {{cpu: '8', memory: 32Gi, pods: '110'}}\n    allocatable: {{cpu: 7800m, memory: 30Gi, pods: '110'}}\n"
        )
    });
}

/// Creates `pods` pods in `namespaces` namespaces (`ns-0`...), a third of them with a class;
/// `variant` changes their images and labels, so different servers hold different contents;
/// with `nodes` > 0 each pod is bound to one of the nodes [`create_nodes`] made.
fn create_pods(
    cluster: &TestCluster,
    pods: usize,
    namespaces: usize,
    variant: usize,
    nodes: usize,
) {
    for ns in 0..namespaces {
        cluster.kubectl_ok(&["create", "namespace", &format!("ns-{ns}")], None);
    }
    create_items(cluster, "pods", pods, 1000, |i| {
        let class = if (i + variant).is_multiple_of(3) {
            "    priorityClassName: system-cluster-critical\n"
        } else {
            ""
        };
        let node = if nodes > 0 {
            format!("    nodeName: node-{}\n", i % nodes)
        } else {
            String::new()
        };
        format!(
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: pod-{i}\n    namespace: ns-{}\n    labels: {{app: app-{}, tier: web}}\n  spec:\n{class}{node}    containers:\n    - name: main\n      image: example.com/app{variant}:{}\n      resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}\n",
            i % namespaces,
            i % 50,
            i % 7
        )
    });
}

/// Creates `count` objects through the API: `item(i)` is each one's `kind: List` entry, and
/// lists of `chunk` of them go to `kubectl create -f`, four at a time.
fn create_items(
    cluster: &TestCluster,
    what: &str,
    count: usize,
    chunk: usize,
    item: impl Fn(usize) -> String,
) {
    if count == 0 {
        return;
    }
    let kubectl = cluster.bin_dir().join("kubectl").display().to_string();
    let kc = cluster.kubeconfig_path().display().to_string();
    let dir = cluster.work_dir().to_path_buf();
    eprintln!("creating {count} {what} ...");
    let created = Instant::now();
    let mut children = Vec::new();
    for c in 0..count.div_ceil(chunk) {
        let mut list = String::from("apiVersion: v1\nkind: List\nitems:\n");
        for i in c * chunk..((c + 1) * chunk).min(count) {
            list.push_str(&item(i));
        }
        let file = dir.join(format!("{what}-{c}.yaml"));
        std::fs::write(&file, list).unwrap();
        children.push(
            Command::new(&kubectl)
                .args(["--kubeconfig", &kc, "create", "-f"])
                .arg(&file)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        if children.len() == 4 {
            for mut ch in children.drain(..) {
                assert!(ch.wait().unwrap().success());
            }
        }
    }
    for mut ch in children {
        assert!(ch.wait().unwrap().success());
    }
    eprintln!("created in {:.0} s", created.elapsed().as_secs_f64());
}

mod fleet {
    use super::{SEED_JQ, TIMES, create_pods, median, shell_quote, times};
    use pg_testenv::{Options, TestCluster};
    use std::path::Path;
    use std::process::Command;

    /// The requests the three servers have answered so far (their own counters).
    fn requests(clusters: &[TestCluster]) -> u64 {
        clusters
            .iter()
            .map(|c| {
                c.kubectl_ok(&["get", "--raw", "/metrics"], None)
                    .lines()
                    .filter(|l| l.starts_with("apiserver_request_total{"))
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum::<f64>() as u64
            })
            .sum()
    }

    /// A kubeconfig with `contexts` contexts over the three servers: context `c-I` (cluster
    /// and user entries of its own, the server's admin credentials) points at server `I % 3`.
    fn kubeconfig(clusters: &[TestCluster], contexts: usize, path: &Path) {
        let admins: Vec<serde_json::Value> = clusters
            .iter()
            .map(|c| {
                serde_json::from_str(&std::fs::read_to_string(c.kubeconfig_path()).unwrap())
                    .unwrap()
            })
            .collect();
        let (mut cl, mut us, mut cx) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..contexts {
            let admin = &admins[i % clusters.len()];
            let name = format!("c-{i}");
            cl.push(serde_json::json!({"name": name, "cluster": admin["clusters"][0]["cluster"]}));
            us.push(serde_json::json!({"name": name, "user": admin["users"][0]["user"]}));
            cx.push(serde_json::json!({"name": name, "context": {"cluster": name, "user": name}}));
        }
        let config = serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "clusters": cl, "users": us, "contexts": cx,
            "current-context": "c-0",
        });
        std::fs::write(path, serde_json::to_vec(&config).unwrap()).unwrap();
    }

    /// Runs `script` (exit 0 or 1) and returns its wall, CPU and peak RSS, and the requests the
    /// servers answered meanwhile.
    fn measure(clusters: &[TestCluster], script: &str, rss: &Path) -> (f64, f64, u64, u64) {
        let before = requests(clusters);
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("set -o pipefail; {script}"))
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let after = requests(clusters);
        let (wall, cpu, peak) = times(rss);
        // The metrics read itself (one request per server) is not the command's.
        (wall, cpu, peak, after - before - clusters.len() as u64)
    }

    pub fn run(contexts: usize, pods: usize, runs: usize) {
        let bin = env!("CARGO_BIN_EXE_priorityguard");
        let clusters: Vec<TestCluster> = (0..3)
            .map(|_| TestCluster::start(Options::default()).expect("test cluster"))
            .collect();
        let multus = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/upstream/multus-cni/multus-daemonset.yml");
        for (i, c) in clusters.iter().enumerate() {
            // Different contents: pods per server vary, and each has its own extra workloads.
            create_pods(c, pods + i * pods / 2, 10, i, 0);
            match i {
                0 => drop(c.kubectl_ok(&["apply", "-f", multus.to_str().unwrap()], None)),
                1 => drop(c.kubectl_ok(
                    &[
                        "create",
                        "deployment",
                        "web",
                        "-n",
                        "ns-1",
                        "--image=example.com/web:1",
                    ],
                    None,
                )),
                _ => drop(c.kubectl_ok(
                    &[
                        "create",
                        "deployment",
                        "coredns",
                        "-n",
                        "kube-system",
                        "--image=registry.k8s.io/coredns/coredns:v1.12.0",
                    ],
                    None,
                )),
            }
        }
        let dir = clusters[0].work_dir().to_path_buf();
        let kc = dir.join("fleet-kubeconfig.json");
        kubeconfig(&clusters, contexts, &kc);
        let kc = kc.display().to_string();
        let kubectl = clusters[0].bin_dir().join("kubectl").display().to_string();
        let (ours_rss, jobs1_rss, seed_rss) = (
            dir.join("ours.time"),
            dir.join("jobs1.time"),
            dir.join("seed.time"),
        );
        let pipes_rss = dir.join("pipes.rss");
        let time = |file: &Path| format!("/usr/bin/time -f '{TIMES}' -o {}", file.display());
        let ours = format!(
            "KUBECONFIG={kc} {t} {bin} audit --cluster --all-contexts -o json > /dev/null",
            t = time(&ours_rss)
        );
        let jobs1 = format!(
            "KUBECONFIG={kc} {t} {bin} audit --cluster --all-contexts --jobs 1 -o json > /dev/null",
            t = time(&jobs1_rss)
        );
        // One bash loop of N pipelines: GNU time around it counts every child's CPU; each
        // kubectl and jq also records its own peak RSS (appended), for the largest pair.
        let loop_body = format!(
            "rm -f {r}; for i in $(seq 0 {last}); do \
             /usr/bin/time -a -f 'k %M' -o {r} {kubectl} --kubeconfig {kc} --context c-$i get pods -A -o json \
             | /usr/bin/time -a -f 'j %M' -o {r} jq {q} > /dev/null; done",
            r = pipes_rss.display(),
            last = contexts - 1,
            q = shell_quote(SEED_JQ)
        );
        let seed = format!("{} bash -c {}", time(&seed_rss), shell_quote(&loop_body));
        let pair_peak = || -> u64 {
            let text = std::fs::read_to_string(&pipes_rss).unwrap();
            let values: Vec<(String, u64)> = text
                .lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once(' ')?;
                    Some((k.to_string(), v.trim().parse().ok()?))
                })
                .collect();
            let k = values
                .iter()
                .filter(|(k, _)| k == "k")
                .map(|(_, v)| *v)
                .max();
            let j = values
                .iter()
                .filter(|(k, _)| k == "j")
                .map(|(_, v)| *v)
                .max();
            k.unwrap_or(0) + j.unwrap_or(0)
        };
        // One warm-up each, then interleaved rounds.
        let commands = [(&ours, &ours_rss), (&jobs1, &jobs1_rss), (&seed, &seed_rss)];
        for (cmd, rss) in commands {
            measure(&clusters, cmd, rss);
        }
        let mut results: Vec<Vec<(f64, f64, u64, u64)>> = vec![Vec::new(); 3];
        let mut seed_pair = 0;
        for round in 0..runs {
            for k in 0..3 {
                let which = (round + k) % 3;
                let (cmd, rss) = commands[which];
                results[which].push(measure(&clusters, cmd, rss));
                if which == 2 {
                    seed_pair = seed_pair.max(pair_peak());
                }
            }
        }
        let total_pods: usize = (0..3).map(|i| pods + i * pods / 2).sum();
        println!(
            "| command ({contexts} contexts over 3 API servers holding {total_pods} pods, {runs} runs) | median wall | median CPU (user+sys) | peak RSS | requests | requests/s |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        let names = [
            "`priorityguard audit --cluster --all-contexts -o json` (default --jobs 8)".to_string(),
            "`priorityguard audit --cluster --all-contexts --jobs 1 -o json`".to_string(),
            format!("{contexts} sequential `kubectl --context C get pods -A -o json \\| jq ...`"),
        ];
        let mut walls = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let r = &results[i];
            let mut wall: Vec<f64> = r.iter().map(|x| x.0).collect();
            let mut cpu: Vec<f64> = r.iter().map(|x| x.1).collect();
            let peak = if i == 2 {
                seed_pair
            } else {
                r.iter().map(|x| x.2).max().unwrap()
            };
            let requests = r.iter().map(|x| x.3).max().unwrap();
            let w = median(&mut wall);
            walls.push(w);
            let peak_text = if i == 2 {
                format!("{} MiB (largest kubectl + largest jq)", peak / 1024)
            } else {
                format!("{} MiB", peak / 1024)
            };
            println!(
                "| {name} | {w:.2} s | {:.2} s | {peak_text} | {requests} | {:.0} |",
                median(&mut cpu),
                requests as f64 / w
            );
        }
        println!(
            "| ratio (default --jobs vs the pipelines) | {:.1}x faster | | | | |",
            walls[2] / walls[0]
        );
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
