//! The krew plugin manifest (`plugins/priorityguard.yaml`) satisfies every rule krew applies
//! when it loads a manifest (krew's internal/index/validation: apiVersion, kind, a safe name
//! equal to the file name, a one-line short description, a `v`-prefixed semantic version,
//! platforms each with uri, a lowercase hex sha256, bin, well-formed files and an os/arch
//! selector), and its `bin` and `files` name the binary this crate builds.

mod common;

use common::repo_root;
use serde_yaml_ng::Value;

fn manifest() -> Value {
    let text = std::fs::read_to_string(repo_root().join("plugins/priorityguard.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).expect("the manifest is YAML")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

fn is_krew_semver(v: &str) -> bool {
    // krew's semver.Parse: a leading `v`, then MAJOR.MINOR.PATCH with optional pre-release.
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let core = rest.split(['-', '+']).next().unwrap();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[test]
fn manifest_passes_krews_validation_rules() {
    let m = manifest();
    assert_eq!(
        s(&m["apiVersion"]),
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(s(&m["kind"]), "Plugin");
    let name = s(&m["metadata"]["name"]);
    assert_eq!(name, "priorityguard", "the name must equal the file name");
    assert!(
        name.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    );

    let spec = &m["spec"];
    let short = s(&spec["shortDescription"]);
    assert!(!short.is_empty() && !short.contains(['\r', '\n']));
    // krew-index asks for short descriptions that fit a `kubectl krew search` line.
    assert!(short.len() <= 80, "{short}");
    let version = s(&spec["version"]);
    assert!(is_krew_semver(version), "{version}");
    assert_eq!(version, format!("v{}", env!("CARGO_PKG_VERSION")));

    let platforms = spec["platforms"].as_sequence().unwrap();
    assert!(!platforms.is_empty());
    let mut seen = Vec::new();
    for p in platforms {
        let uri = s(&p["uri"]);
        assert!(uri.starts_with("https://"), "{uri}");
        assert!(uri.contains(&format!("/{version}/")), "{uri}");
        let sha = s(&p["sha256"]);
        assert!(
            sha.len() == 64 && sha.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
            "{sha}"
        );
        assert_eq!(s(&p["bin"]), "kubectl-priorityguard");
        if let Some(files) = p.get("files") {
            let files = files.as_sequence().unwrap();
            assert!(
                !files.is_empty(),
                "`files` must be unspecified or non-empty"
            );
            for f in files {
                assert!(!s(&f["from"]).is_empty() && !s(&f["to"]).is_empty());
            }
            assert!(
                files
                    .iter()
                    .any(|f| s(&f["from"]) == "kubectl-priorityguard")
            );
        }
        let labels = p["selector"]["matchLabels"]
            .as_mapping()
            .expect("a matchLabels selector");
        assert!(!labels.is_empty());
        for key in labels.keys() {
            assert!(
                matches!(s(key), "os" | "arch"),
                "krew only supports os and arch"
            );
        }
        seen.push((s(&labels["os"]).to_string(), s(&labels["arch"]).to_string()));
    }
    for want in ["linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"] {
        assert!(
            seen.iter().any(|(os, arch)| format!("{os}/{arch}") == want),
            "no {want} platform"
        );
    }
}

#[test]
fn manifest_bin_is_a_binary_this_crate_builds_and_runs_as_a_kubectl_plugin() {
    let cargo = std::fs::read_to_string(repo_root().join("crates/cli/Cargo.toml")).unwrap();
    assert!(cargo.contains("name = \"kubectl-priorityguard\""));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-priorityguard"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    // The caveats' command is a real subcommand and flag.
    let m = manifest();
    assert!(s(&m["spec"]["caveats"]).contains("kubectl priorityguard audit --cluster"));
    assert!(help.contains("audit"), "{help}");
    let audit = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-priorityguard"))
        .args(["audit", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&audit.stdout).contains("--cluster"));
}
