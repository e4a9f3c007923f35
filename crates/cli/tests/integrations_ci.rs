//! The CI integrations: the composite GitHub Action (`action.yml`) and the GitLab CI template
//! (`ci/gitlab/priorityguard.gitlab-ci.yml`). Both files are parsed and their structure
//! checked, and their audit command lines are executed exactly as written (inputs substituted
//! the way the runners do) against the upstream corpus: the action's SARIF is validated against
//! the official SARIF 2.1.0 schema, the template's JUnit report is checked.

mod common;
mod hostile;

use common::repo_root;
use serde_json::Value as Json;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

#[path = "../../report/tests/data/sarif_schema.rs"]
mod sarif_schema;
use sarif_schema::assert_valid_sarif;

fn yaml(rel: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(rel)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// PATH with the directory of the priorityguard under test first (what the Install step and
/// `command -v priorityguard || cargo install ...` provide on a runner).
fn path_with_priorityguard() -> std::ffi::OsString {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_priorityguard"))
        .parent()
        .unwrap()
        .to_path_buf();
    std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// GitHub Action
// ---------------------------------------------------------------------------------------------

fn action_step<'a>(action: &'a Value, name: &str) -> &'a Value {
    action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("action.yml has no step {name:?}"))
}

/// Replaces `${{ inputs.NAME }}` the way the runner does: the caller's value, else the
/// input's default.
fn substitute(action: &Value, text: &str, with: &BTreeMap<&str, &str>) -> String {
    let mut out = text.to_string();
    for (name, input) in action["inputs"].as_mapping().unwrap() {
        let name = s(name);
        let value = with
            .get(name)
            .map(|v| v.to_string())
            .unwrap_or_else(|| s(&input["default"]).to_string());
        out = out.replace(&format!("${{{{ inputs.{name} }}}}"), &value);
    }
    assert!(!out.contains("${{"), "unsubstituted expression in {out}");
    out
}

/// Runs the action's Audit step as the runner does (`bash --noprofile --norc -eo pipefail`,
/// step `env:` set, GITHUB_OUTPUT a file) in `workspace`; returns the step's result and its
/// outputs.
fn run_audit_step(with: &BTreeMap<&str, &str>, workspace: &Path) -> (Output, String) {
    let action = yaml("action.yml");
    let step = action_step(&action, "Audit");
    assert_eq!(s(&step["shell"]), "bash");
    let script = workspace.join("audit-step.sh");
    std::fs::write(&script, s(&step["run"])).unwrap();
    let outputs = workspace.join("github-output");
    std::fs::write(&outputs, "").unwrap();
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script)
        .current_dir(workspace)
        .env("PATH", path_with_priorityguard())
        .env("GITHUB_OUTPUT", &outputs)
        .env_remove("NO_COLOR");
    for (k, v) in step["env"].as_mapping().unwrap() {
        cmd.env(s(k), substitute(&action, s(v), with));
    }
    let out = cmd.output().unwrap();
    (out, std::fs::read_to_string(&outputs).unwrap())
}

/// A workspace holding a copy of the upstream corpus, like a checked-out repository.
fn corpus_workspace() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(repo_root().join("testdata/upstream"))
        .arg(tmp.path().join("manifests"))
        .status()
        .unwrap();
    assert!(status.success());
    tmp
}

#[test]
fn action_is_a_composite_that_audits_uploads_sarif_then_fails() {
    let action = yaml("action.yml");
    assert_eq!(s(&action["runs"]["using"]), "composite");
    assert!(!s(&action["name"]).is_empty() && !s(&action["description"]).is_empty());
    for input in ["paths", "fail-on", "args", "sarif-file", "upload-sarif"] {
        assert!(
            action["inputs"][input]["description"].is_string(),
            "input {input} needs a description"
        );
    }
    assert_eq!(s(&action["inputs"]["fail-on"]["default"]), "error");
    let names: Vec<&str> = action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|st| s(&st["name"]))
        .collect();
    assert_eq!(
        names,
        [
            "Install priorityguard",
            "Audit",
            "Upload SARIF",
            "Fail on findings"
        ]
    );
    for st in action["runs"]["steps"].as_sequence().unwrap() {
        // Composite `run` steps must name their shell.
        if st["run"].is_string() {
            assert_eq!(s(&st["shell"]), "bash", "{st:?}");
            assert!(
                !s(&st["run"]).contains("${{"),
                "expressions belong in env:, not in scripts (injection): {st:?}"
            );
        }
    }

    let install = s(&action_step(&action, "Install priorityguard")["run"]);
    assert!(install.contains("cargo install --locked"), "{install}");
    assert!(
        install.contains("$GITHUB_ACTION_PATH/crates/cli"),
        "{install}"
    );
    assert!(repo_root().join("crates/cli/Cargo.toml").exists());
    assert!(install.contains("$GITHUB_PATH"), "{install}");

    let audit = action_step(&action, "Audit");
    assert_eq!(s(&audit["id"]), "audit");
    assert!(s(&audit["run"]).contains("priorityguard audit -o sarif"));
    assert!(s(&audit["run"]).contains("exit-code="));

    let upload = action_step(&action, "Upload SARIF");
    assert!(s(&upload["uses"]).starts_with("github/codeql-action/upload-sarif@"));
    assert_eq!(s(&upload["with"]["sarif_file"]), "${{ inputs.sarif-file }}");
    assert!(
        s(&upload["if"]).contains("always()"),
        "upload even after failures"
    );

    let fail = action_step(&action, "Fail on findings");
    assert_eq!(s(&fail["if"]), "steps.audit.outputs.exit-code == '1'");
    assert!(s(&fail["run"]).contains("exit 1"));
    assert_eq!(
        s(&action["outputs"]["exit-code"]["value"]),
        "${{ steps.audit.outputs.exit-code }}"
    );
}

#[test]
fn action_audit_step_writes_schema_valid_sarif_and_does_not_fail_on_findings() {
    let ws = corpus_workspace();
    let with = BTreeMap::from([("paths", "manifests")]);
    let (out, outputs) = run_audit_step(&with, ws.path());
    assert!(
        out.status.success(),
        "the Audit step must not fail on findings (upload comes next): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(outputs.contains("exit-code=1\n"), "{outputs:?}");

    let sarif: Json =
        serde_json::from_slice(&std::fs::read(ws.path().join("priorityguard.sarif")).unwrap())
            .expect("the SARIF file is JSON");
    assert_valid_sarif(&sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    let uris: Vec<&str> = results
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    // Relative to the workspace, as code scanning needs to place the alerts on files.
    assert!(
        uris.contains(&"manifests/multus-cni/multus-daemonset.yml"),
        "{uris:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "critical-without-priority"),
        "{results:?}"
    );
}

#[test]
fn action_audit_step_honours_fail_on_and_sarif_file_and_stops_on_bad_input() {
    let ws = corpus_workspace();

    // fail-on: never -> exit-code 0 (the Fail step is skipped), SARIF still written and valid.
    let with = BTreeMap::from([
        ("paths", "manifests/multus-cni"),
        ("fail-on", "never"),
        ("sarif-file", "out.sarif"),
    ]);
    let (out, outputs) = run_audit_step(&with, ws.path());
    assert!(out.status.success());
    assert!(outputs.contains("exit-code=0\n"), "{outputs:?}");
    let sarif: Json =
        serde_json::from_slice(&std::fs::read(ws.path().join("out.sarif")).unwrap()).unwrap();
    assert_valid_sarif(&sarif);
    assert!(!sarif["runs"][0]["results"].as_array().unwrap().is_empty());

    // A fixed file: clean.
    let with = BTreeMap::from([(
        "paths",
        "manifests/kubespray/after-fix/multus-daemonset.yml.j2",
    )]);
    let (out, outputs) = run_audit_step(&with, ws.path());
    assert!(out.status.success());
    assert!(outputs.contains("exit-code=0\n"), "{outputs:?}");

    // Unreadable input: the step itself fails with 2 (no trustworthy report to upload).
    let with = BTreeMap::from([("paths", "no/such/dir")]);
    let (out, outputs) = run_audit_step(&with, ws.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(outputs.contains("exit-code=2\n"), "{outputs:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("::error"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn action_audit_step_log_shows_hostile_names_without_running_them() {
    let ws = tempfile::tempdir().unwrap();
    hostile::hostile_tree(ws.path());
    let (out, outputs) = run_audit_step(&BTreeMap::from([("paths", ".")]), ws.path());
    // The unreadable file makes it exit 2, after printing the input error.
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(outputs.contains("exit-code=2\n"), "{outputs:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad\\n::error file=README.md::from-a-bad-file\\033[31m.yaml"),
        "{stderr}"
    );
    hostile::assert_harmless("Audit step stdout", &out.stdout);
    hostile::assert_harmless("Audit step stderr", &out.stderr);
}

// ---------------------------------------------------------------------------------------------
// GitLab CI template
// ---------------------------------------------------------------------------------------------

const GITLAB: &str = "ci/gitlab/priorityguard.gitlab-ci.yml";

#[test]
fn gitlab_template_publishes_a_junit_report_even_when_failing() {
    let ci = yaml(GITLAB);
    let job = &ci["priorityguard"];
    let script: Vec<&str> = job["script"].as_sequence().unwrap().iter().map(s).collect();
    let audit = script
        .iter()
        .find(|l| l.contains("priorityguard audit"))
        .expect("a script line runs priorityguard audit");
    assert!(audit.contains("-o junit"), "{audit}");
    let report = s(&job["artifacts"]["reports"]["junit"]);
    assert!(audit.ends_with(&format!("> {report}")), "{audit}");
    assert_eq!(s(&job["artifacts"]["when"]), "always");
    assert!(
        job["artifacts"]["paths"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|p| s(p) == report)
    );
    for var in [
        "PRIORITYGUARD_PATHS",
        "PRIORITYGUARD_FAIL_ON",
        "PRIORITYGUARD_ARGS",
    ] {
        assert!(job["variables"][var].is_string(), "variable {var}");
    }
}

/// Runs the job's script lines in order, as the runner does (each line must succeed for the
/// next to run); returns the exit code of the first failing line, or 0.
fn run_gitlab_job(vars: &BTreeMap<&str, &str>, workspace: &Path) -> i32 {
    let ci = yaml(GITLAB);
    let job = &ci["priorityguard"];
    for line in job["script"].as_sequence().unwrap() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(s(line))
            .current_dir(workspace)
            .env("PATH", path_with_priorityguard());
        for (k, v) in job["variables"].as_mapping().unwrap() {
            cmd.env(s(k), vars.get(s(k)).copied().unwrap_or(s(v)));
        }
        let out = cmd.output().unwrap();
        let code = out.status.code().unwrap();
        if code != 0 {
            return code;
        }
    }
    0
}

#[test]
fn gitlab_job_script_fails_on_findings_and_writes_the_junit_report() {
    let ws = corpus_workspace();
    let code = run_gitlab_job(
        &BTreeMap::from([("PRIORITYGUARD_PATHS", "manifests/multus-cni")]),
        ws.path(),
    );
    assert_eq!(code, 1, "findings fail the job");
    let xml = std::fs::read_to_string(ws.path().join("priorityguard-junit.xml")).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("<testsuites"), "{xml}");
    assert!(
        xml.contains("classname=\"critical-without-priority\""),
        "{xml}"
    );
    assert!(
        xml.contains("file=\"manifests/multus-cni/multus-daemonset.yml\""),
        "{xml}"
    );

    let code = run_gitlab_job(
        &BTreeMap::from([
            (
                "PRIORITYGUARD_PATHS",
                "manifests/kubespray/after-fix/multus-daemonset.yml.j2",
            ),
            ("PRIORITYGUARD_ARGS", ""),
        ]),
        ws.path(),
    );
    assert_eq!(code, 0, "a fixed tree passes");
    let xml = std::fs::read_to_string(ws.path().join("priorityguard-junit.xml")).unwrap();
    assert!(xml.contains("failures=\"0\""), "{xml}");
}
