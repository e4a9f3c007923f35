//! Bad input: each case gives a one-line error naming the file (and line where there is one),
//! exit code 2, no panic, bounded memory; the other inputs are still audited.

mod common;
use common::*;
use std::path::{Path, PathBuf};

struct Case {
    name: &'static str,
    path: PathBuf,
    /// Text the error line must contain (besides the file name).
    expect: &'static str,
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn cases(dir: &Path) -> Vec<Case> {
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for name in "bcdefghi".chars() {
        bomb.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        prev = name;
    }
    let huge = dir.join("huge.yaml");
    {
        use std::io::Write;
        let f = std::fs::File::create(&huge).unwrap();
        let mut w = std::io::BufWriter::new(f);
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..1024 {
            w.write_all(&chunk).unwrap();
        }
    }
    let loop_dir = dir.join("loop");
    std::fs::create_dir_all(loop_dir.join("sub")).unwrap();
    std::os::unix::fs::symlink(&loop_dir, loop_dir.join("sub/back")).unwrap();
    let unreadable = dir.join("unreadable.yaml");
    // As root a chmod 000 file is still readable; a file whose read fails is not.
    std::os::unix::fs::symlink("/proc/self/mem", &unreadable).unwrap();
    vec![
        Case {
            name: "truncated YAML",
            path: write(dir, "truncated.yaml", b"apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: x\n  labels: {app: \"multus"),
            expect: "truncated.yaml:5",
        },
        Case {
            name: "tabs in indentation",
            path: write(dir, "tabs.yaml", b"apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n"),
            expect: "tabs.yaml:4",
        },
        Case {
            name: "alias bomb",
            path: write(dir, "bomb.yaml", bomb.as_bytes()),
            expect: "billion laughs",
        },
        Case { name: "1 GiB single line", path: huge, expect: "too large" },
        Case {
            name: "deeply nested YAML",
            path: write(dir, "deep.yaml", format!("a: {}", "[".repeat(100_000)).as_bytes()),
            expect: "deep.yaml:1",
        },
        Case {
            name: "deeply nested JSON",
            path: write(dir, "deep.json", format!("{}{}", "{\"a\":".repeat(100_000), "1").as_bytes()),
            expect: "deep.json:1",
        },
        Case {
            name: "binary file",
            path: write(dir, "binary.yaml", &[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0xff, 0xfe]),
            expect: "binary file",
        },
        Case { name: "unreadable file", path: unreadable, expect: "unreadable.yaml" },
        Case { name: "missing file", path: dir.join("missing.yaml"), expect: "no such file" },
        Case { name: "symlink loop, followed", path: loop_dir, expect: "symlink loop" },
        Case {
            name: "invalid UTF-8",
            path: write(dir, "latin1.yaml", b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: caf\xe9\n"),
            expect: "latin1.yaml:4",
        },
    ]
}

#[test]
fn each_bad_input_is_one_clear_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = upstream("multus-cni/multus-daemonset.yml");
    for case in cases(dir.path()) {
        let path = case.path.display().to_string();
        // --follow: without it a directory link is not followed, so a loop is no problem.
        let alone = priorityguard(&["audit", "--follow", "-o", "json", &path]);
        let stderr = String::from_utf8_lossy(&alone.stderr).to_string();
        assert_eq!(alone.status.code(), Some(2), "{}: {stderr}", case.name);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{}: one line expected, got {stderr}",
            case.name
        );
        let file_name = case.path.file_name().unwrap().to_str().unwrap();
        assert!(lines[0].starts_with("error: "), "{}: {stderr}", case.name);
        assert!(lines[0].contains(file_name), "{}: {stderr}", case.name);
        assert!(
            lines[0].contains(case.expect),
            "{}: expected {:?} in {stderr}",
            case.name,
            case.expect
        );
        assert!(!stderr.contains("panicked"), "{}", case.name);
        // The error is in the JSON report too.
        let report = json(&alone);
        assert_eq!(
            report["problems"].as_array().unwrap().len(),
            1,
            "{}",
            case.name
        );

        // Next to a good file, the good file is still audited.
        let both = priorityguard(&["audit", "--follow", "-o", "json", &path, &good]);
        assert_eq!(both.status.code(), Some(2), "{}", case.name);
        let keys = finding_keys(&json(&both));
        assert!(
            keys.iter()
                .any(|k| k.2 == "kube-system/DaemonSet/kube-multus-ds"),
            "{}: good input not audited: {keys:?}",
            case.name
        );
    }
}

#[test]
fn binary_and_hidden_files_in_a_directory_are_skipped_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "blob.yaml", &[0, 1, 2, 3]);
    write(dir.path(), ".hidden.yaml", b"kind: Pod\n");
    std::fs::copy(
        upstream("multus-cni/multus-daemonset.yml"),
        dir.path().join("multus.yml"),
    )
    .unwrap();
    write(dir.path(), ".gitignore", b"ignored.yaml\n");
    write(dir.path(), "ignored.yaml", b"{{ not yaml");
    let out = priorityguard(&["audit", &dir.path().display().to_string()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("note: ") && stderr.contains("blob.yaml: binary file, skipped"),
        "{stderr}"
    );
    assert!(stderr.contains(".hidden.yaml: hidden, skipped"), "{stderr}");
    assert!(!stderr.contains("ignored.yaml"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let out = priorityguard(&["audit"]);
    assert_eq!(out.status.code(), Some(2));
    let out = priorityguard(&["audit", "-o", "xml", "x.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = priorityguard(&["catalog", "--explain", "no-such-check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("priorityguard catalog"));
}
