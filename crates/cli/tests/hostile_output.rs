//! Names and paths from inputs never reach a terminal or a CI log as they are: a workload
//! called `x\n::error file=README.md::…` or a file whose name holds ESC, OSC-8, BEL, NUL or
//! CR is shown with those characters escaped (as git quotes paths) in every human-readable
//! output: the table, stderr (input errors, `fix`'s lines), `-o github`, `-o markdown`, and
//! the diff headers of `fix`. (action.yml's script: crates/cli/tests/integrations_ci.rs.)

mod common;
mod hostile;
use hostile::{HOSTILE_FILE, assert_harmless, hostile_tree};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_priorityguard"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn hostile_names_and_paths_are_escaped_in_every_human_format() {
    let dir = tempfile::tempdir().unwrap();
    hostile_tree(dir.path());
    for format in ["table", "github", "markdown"] {
        for color in ["never", "always"] {
            let out = run(dir.path(), &["audit", "-o", format, "--color", color, "."]);
            assert_eq!(out.status.code(), Some(2), "{format}: {out:?}");
            let stdout = String::from_utf8_lossy(&out.stdout);
            // The name is there, visibly.
            assert!(
                stdout.contains("evil\\n::error file=README.md::from-a-name\\033]8;;"),
                "{format}: {stdout}"
            );
            if color == "always" && format == "table" {
                // Our own colours are the only escape sequences; strip them, then check.
                let plain = strip_sgr(&stdout);
                assert_harmless("table stdout (colour)", plain.as_bytes());
            } else {
                assert_harmless(&format!("{format} stdout"), &out.stdout);
            }
            assert_harmless(&format!("{format} stderr"), &out.stderr);
        }
    }
    // Input errors on stderr name the bad file visibly.
    let out = run(dir.path(), &["audit", "."]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad\\n::error file=README.md::from-a-bad-file\\033[31m.yaml"),
        "{stderr}"
    );

    // fix: the diff headers, `would fix` and `fixed` lines.
    for args in [
        &["fix", "."][..],
        &["fix", "--check", "--diff", "."],
        &["fix", "--write", "."],
    ] {
        let out = run(dir.path(), args);
        assert_harmless(&format!("{args:?} stderr"), &out.stderr);
        if args[1] != "--write" {
            // The diff's body is the file's own text; only its headers are ours.
            let headers: Vec<&[u8]> = out
                .stdout
                .split(|b| *b == b'\n')
                .filter(|l| l.starts_with(b"--- ") || l.starts_with(b"+++ "))
                .collect();
            assert_eq!(headers.len(), 2, "{args:?}: {out:?}");
            for h in headers {
                assert_harmless(&format!("{args:?} diff header"), h);
            }
        }
    }
    let fixed = std::fs::read_to_string(dir.path().join(HOSTILE_FILE)).unwrap();
    assert!(fixed.contains("priorityClassName: system-node-critical"));
}

/// Removes `ESC [ ... m` (SGR) sequences, the only ones the table writes.
fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
