//! `audit --cluster --all` against the seed pipeline `kubectl get pods -A -o json | jq ...`, on
//! a real kube-apiserver + etcd (pg-testenv) holding `PODS` pods (default 20,000). Each tool runs
//! `RUNS` times (default 5), interleaved; wall time from the whole command, peak RSS from GNU
//! time for every process (for the pipeline: kubectl's and jq's separately, and their sum).
//! Polaris 10.2.2 (`polaris audit --format json`, the cluster from `KUBECONFIG`), when
//! scripts/peers has built it, runs in the same rounds.
//!
//!     cargo bench -p pg-cli --bench cluster            # PODS=20000 RUNS=5 by default

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

fn peak_kib(file: &std::path::Path) -> u64 {
    std::fs::read_to_string(file)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let pods = env_usize("PODS", 20_000);
    let runs = env_usize("RUNS", 5);
    let bin = env!("CARGO_BIN_EXE_priorityguard");
    let cluster = TestCluster::start(Options::default()).expect("test cluster");
    let kubectl = cluster.bin_dir().join("kubectl").display().to_string();
    let kc = cluster.kubeconfig_path().display().to_string();
    let dir = cluster.work_dir().to_path_buf();

    eprintln!("creating {pods} pods in 20 namespaces ...");
    let created = Instant::now();
    for ns in 0..20 {
        cluster.kubectl_ok(&["create", "namespace", &format!("ns-{ns}")], None);
    }
    let chunk = 1000;
    let mut children = Vec::new();
    for c in 0..pods.div_ceil(chunk) {
        let mut list = String::from("apiVersion: v1\nkind: List\nitems:\n");
        for i in c * chunk..((c + 1) * chunk).min(pods) {
            let class = if i % 3 == 0 {
                "    priorityClassName: system-cluster-critical\n"
            } else {
                ""
            };
            list.push_str(&format!(
                "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: pod-{i}\n    namespace: ns-{}\n    labels: {{app: app-{}, tier: web}}\n  spec:\n{class}    containers:\n    - name: main\n      image: example.com/app:{}\n      resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}\n",
                i % 20, i % 50, i % 7
            ));
        }
        let file = dir.join(format!("pods-{c}.yaml"));
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

    let (k_rss, j_rss, p_rss) = (dir.join("k.rss"), dir.join("j.rss"), dir.join("p.rss"));
    let seed = format!(
        "/usr/bin/time -f %M -o {k} {kubectl} --kubeconfig {kc} get pods -A -o json | /usr/bin/time -f %M -o {j} jq {q} > /dev/null",
        k = k_rss.display(),
        j = j_rss.display(),
        q = shell_quote(SEED_JQ)
    );
    let ours = format!(
        "/usr/bin/time -f %M -o {p} {bin} audit --cluster --kubeconfig {kc} --all -o json > /dev/null",
        p = p_rss.display()
    );
    let polaris_bin = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .map(|h| h.join(".cache/priorityguard/peers/polaris-10.2.2/bin/polaris"))
        .filter(|p| p.is_file());
    let pol_rss_file = dir.join("pol.rss");
    let polaris = polaris_bin.as_ref().map(|b| {
        format!(
            "KUBECONFIG={kc} /usr/bin/time -f %M -o {r} {b} audit --format json > /dev/null",
            r = pol_rss_file.display(),
            b = b.display()
        )
    });
    if polaris.is_none() {
        eprintln!("Polaris not found; run scripts/peers polaris for its row");
    }
    timed(&seed);
    timed(&ours);
    if let Some(p) = &polaris {
        timed(p);
    }
    let (mut seed_wall, mut ours_wall, mut pol_wall) = (Vec::new(), Vec::new(), Vec::new());
    let (mut seed_rss, mut ours_rss, mut pol_rss) = (0u64, 0u64, 0u64);
    let (mut k_peak, mut j_peak) = (0u64, 0u64);
    for round in 0..runs {
        // 0 = the seed pipeline, 1 = priorityguard, 2 = Polaris; the first one rotates.
        for k in 0..3 {
            match (round + k) % 3 {
                0 => {
                    seed_wall.push(timed(&seed));
                    let (k, j) = (peak_kib(&k_rss), peak_kib(&j_rss));
                    k_peak = k_peak.max(k);
                    j_peak = j_peak.max(j);
                    seed_rss = seed_rss.max(k + j);
                }
                1 => {
                    ours_wall.push(timed(&ours));
                    ours_rss = ours_rss.max(peak_kib(&p_rss));
                }
                _ => {
                    if let Some(p) = &polaris {
                        pol_wall.push(timed(p));
                        pol_rss = pol_rss.max(peak_kib(&pol_rss_file));
                    }
                }
            }
        }
    }
    let (s, o) = (median(&mut seed_wall), median(&mut ours_wall));
    println!("| command ({pods} pods in the API server, {runs} runs) | median wall | peak RSS |");
    println!("|---|---:|---:|");
    println!(
        "| `kubectl get pods -A -o json \\| jq ...` | {s:.2} s | {} MiB (kubectl {} + jq {}) |",
        seed_rss / 1024,
        k_peak / 1024,
        j_peak / 1024
    );
    println!(
        "| `priorityguard audit --cluster --all -o json` | {o:.2} s | {} MiB |",
        ours_rss / 1024
    );
    println!(
        "| ratio | {:.1}x faster | {:.1}x less memory |",
        s / o,
        seed_rss as f64 / ours_rss as f64
    );
    if !pol_wall.is_empty() {
        let p = median(&mut pol_wall);
        println!(
            "| `polaris audit --format json` (Polaris 10.2.2) | {p:.2} s | {} MiB |",
            pol_rss / 1024
        );
        println!(
            "| priorityguard vs Polaris | {:.1}x faster | {:.1}x less memory |",
            p / o,
            pol_rss as f64 / ours_rss as f64
        );
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
