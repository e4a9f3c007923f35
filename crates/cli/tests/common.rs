//! Helpers shared by the CLI's integration tests: run the real binary, find the test data.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn upstream(rel: &str) -> String {
    repo_root()
        .join("testdata/upstream")
        .join(rel)
        .display()
        .to_string()
}

pub fn priorityguard(args: &[&str]) -> Output {
    priorityguard_stdin(args, None)
}

pub fn priorityguard_stdin(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_priorityguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(repo_root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    child.wait_with_output().expect("binary finishes")
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `(check, severity, namespace/Kind/name)` of every finding.
pub fn finding_keys(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let o = &f["object"];
            let ns = o["namespace"].as_str().unwrap_or("");
            (
                f["check"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                format!(
                    "{ns}/{}/{}",
                    o["kind"].as_str().unwrap(),
                    o["name"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

/// The seed's jq program, as users ran it.
pub const SEED_JQ: &str = r#".items[] | select (.spec.priorityClassName == null) | "Namespace: " + .metadata.namespace + " Name: " + .metadata.name"#;

/// Runs a shell command (a jq pipeline) and returns its output lines.
pub fn shell_lines(script: &str) -> std::collections::BTreeSet<String> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -o pipefail; {script}"))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The pods `no-priority` findings cover, in the seed's own words
/// (`Namespace: NS Name: NAME`): folded pods, and bare pods that are the finding's object.
pub fn no_priority_pods(report: &serde_json::Value) -> std::collections::BTreeSet<String> {
    let mut set = std::collections::BTreeSet::new();
    for f in report["findings"].as_array().unwrap() {
        if f["check"] != "no-priority" {
            continue;
        }
        let mut add = |p: &serde_json::Value| {
            set.insert(format!(
                "Namespace: {} Name: {}",
                p["namespace"].as_str().unwrap(),
                p["name"].as_str().unwrap()
            ));
        };
        if f["object"]["kind"] == "Pod" && f["object_inferred"] == false {
            add(&f["object"]);
        }
        f["pods"]
            .as_array()
            .into_iter()
            .flatten()
            .for_each(&mut add);
    }
    set
}

/// Single-quotes `s` for bash.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
