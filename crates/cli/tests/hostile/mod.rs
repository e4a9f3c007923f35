//! Hostile inputs shared by hostile_output.rs and integrations_ci.rs: a tree whose workload
//! and file names try to inject workflow commands and terminal escapes, and the check that an
//! output holds none of them raw.
#![allow(dead_code)]

use std::path::Path;

/// A workload name that tries everything: a new line starting a workflow command, an OSC-8
/// hyperlink, BEL, a screen clear, CR, NUL and NEL. (YAML double-quoted escapes.)
pub const HOSTILE_NAME_YAML: &str =
    r#""evil\n::error file=README.md::from-a-name\e]8;;https://e.example\a\e[2J\r\0\Nend""#;
/// A file name with the same idea (NUL and `/` cannot be in a file name).
pub const HOSTILE_FILE: &str =
    "x\n::error file=README.md::from-a-path\x1b]8;;mailto:e@e.example\x07\r.yaml";

/// The Multus DaemonSet under the hostile name, in a file with the hostile name, next to an
/// unreadable file with a hostile name (an input error on stderr).
pub fn hostile_tree(dir: &Path) {
    let multus =
        std::fs::read_to_string(super::common::repo_root().join("examples/multus-daemonset.yml"))
            .unwrap()
            .replace(
                "name: kube-multus-ds",
                &format!("name: {HOSTILE_NAME_YAML}"),
            );
    std::fs::write(dir.join(HOSTILE_FILE), multus).unwrap();
    std::fs::write(
        dir.join("bad\n::error file=README.md::from-a-bad-file\x1b[31m.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: [\n",
    )
    .unwrap();
}

/// Fails unless `text` is lines of visible characters (tab allowed) and no line starts a
/// workflow command the input chose.
pub fn assert_harmless(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    for line in text.lines() {
        assert!(
            !line.chars().any(|c| c != '\t' && pg_model::needs_escape(c)),
            "{what}: control character in {line:?}"
        );
        assert!(
            !line.trim_start().starts_with("::error file=README.md"),
            "{what}: injected workflow command {line:?}"
        );
    }
}
