//! `priorityguard man` and `priorityguard completions`: the man page is roff generated from the
//! clap definitions and documents every subcommand; the completion scripts parse in their
//! shells (`bash -n`, `zsh -n`, `fish -n`; a shell that is not installed is skipped).

mod common;

use common::priorityguard;
use std::process::Command;

const SUBCOMMANDS: [&str; 9] = [
    "audit",
    "catalog",
    "classes",
    "fix",
    "policy",
    "simulate",
    "serve",
    "completions",
    "man",
];

fn stdout_of(args: &[&str]) -> String {
    let out = priorityguard(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "priorityguard {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn man_prints_a_roff_page_naming_every_subcommand() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH priorityguard 1"), "{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "missing {section}:\n{page}");
    }
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("priorityguard\\-{sub}(1)")),
            "the man page does not list `{sub}`:\n{page}"
        );
    }
    // The help text comes from the same definitions: the version and the about line.
    assert!(page.contains(env!("CARGO_PKG_VERSION")), "{page}");
    assert!(page.contains("PriorityClass"), "{page}");
}

#[test]
fn man_page_renders_with_man_when_available() {
    // `man -l` (man-db) formats a local file: proof the roff is well-formed enough to read.
    let Ok(probe) = Command::new("man").arg("--version").output() else {
        pg_testenv::skip!("no `man` on PATH (scripts/install-deps installs man-db)");
    };
    if !probe.status.success() {
        pg_testenv::skip!("`man --version` failed");
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("priorityguard.1");
    std::fs::write(&file, stdout_of(&["man"])).unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() && text.is_empty() {
        pg_testenv::skip!(
            "`man -l` is unusable here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(text.contains("SUBCOMMANDS"), "{text}");
}

#[test]
fn completion_scripts_parse_in_their_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.contains("priorityguard"), "{shell}: {script}");
        for sub in ["audit", "fix", "simulate", "man"] {
            assert!(script.contains(sub), "{shell} completion lacks `{sub}`");
        }
        if Command::new(shell)
            .arg("-c")
            .arg("exit 0")
            .output()
            .is_err()
        {
            pg_testenv::skip(&format!(
                "{shell} is not installed (scripts/install-deps installs it); \
                 the script was generated but not parsed"
            ));
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join(format!("priorityguard.{shell}"));
        std::fs::write(&file, &script).unwrap();
        let out = Command::new(shell).arg("-n").arg(&file).output().unwrap();
        assert!(
            out.status.success(),
            "`{shell} -n` rejects the completion script: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // bash must exist (the test suite's scripts are bash): source the script for real and
    // check it registers the completion function.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("priorityguard.bash");
    std::fs::write(&file, stdout_of(&["completions", "bash"])).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p priorityguard",
            common::shell_quote(&file.display().to_string())
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("priorityguard"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn powershell_and_elvish_completions_are_generated() {
    for shell in ["powershell", "elvish"] {
        let script = stdout_of(&["completions", shell]);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completion lacks `{sub}`");
        }
    }
}

#[test]
fn man_dir_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let out = priorityguard(&["man", "--dir", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let main = std::fs::read_to_string(out_dir.join("priorityguard.1")).unwrap();
    assert_eq!(main, stdout_of(&["man"]), "--dir writes the same main page");
    for sub in SUBCOMMANDS {
        let page = std::fs::read_to_string(out_dir.join(format!("priorityguard-{sub}.1")))
            .unwrap_or_else(|e| panic!("priorityguard-{sub}.1: {e}"));
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "roff: {sub}");
        assert!(
            page.contains(&format!("priorityguard\\-{sub}")),
            "{sub}:\n{page}"
        );
    }
    let audit = std::fs::read_to_string(out_dir.join("priorityguard-audit.1")).unwrap();
    assert!(
        audit.contains("\\-\\-events"),
        "the audit page has its options:\n{audit}"
    );
}
