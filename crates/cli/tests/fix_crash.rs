//! `fix --write` never leaves a partial file: a failing rename, a crash right before or right
//! after it (failpoints, see crates/fix/src/write.rs), the kernel killing it in the middle of
//! writing the new text (a file size limit, so the kill lands inside the write at a chosen
//! byte) and SIGKILL at random moments all leave the old file or the new one, byte for byte.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pg_fix::{FAILPOINT_VAR, TEMP_MARKER};
/// The signal `std::process::abort` raises (its number on Linux and the BSDs).
const SIGABRT: i32 = 6;

/// A copy of metallb-native.yaml (two workloads to fix) and its expected fixed text.
fn setup(dir: &Path) -> (PathBuf, Vec<u8>, Vec<u8>) {
    let file = dir.join("metallb-native.yaml");
    std::fs::copy(
        repo_root().join("crates/fix/tests/data/metallb/metallb-native.yaml"),
        &file,
    )
    .unwrap();
    let old = std::fs::read(&file).unwrap();
    let out = priorityguard_stdin(&["fix", "--write", "-"], Some(&old));
    assert_eq!(out.status.code(), Some(0));
    assert_ne!(out.stdout, old);
    (file, old, out.stdout)
}

fn write_with(file: &Path, failpoint: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_priorityguard"))
        .args(["fix", "--write", &file.display().to_string()])
        .env(FAILPOINT_VAR, failpoint)
        // A core dump, if the system writes one, lands with the test's files.
        .current_dir(file.parent().unwrap())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(TEMP_MARKER))
        .collect()
}

#[test]
fn a_failing_rename_leaves_the_old_file_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let (file, old, _) = setup(dir.path());
    let out = write_with(&file, "rename");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&file.display().to_string()) && stderr.contains("left as it was"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), old);
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

#[test]
fn a_crash_before_or_after_the_rename_leaves_a_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let (file, old, new) = setup(dir.path());

    let out = write_with(&file, "abort-before-rename");
    assert_eq!(out.status.signal(), Some(SIGABRT), "{out:?}");
    assert_eq!(std::fs::read(&file).unwrap(), old, "entirely old");
    // The crashed process's temporary file is complete; the next write removes it.
    let left = temp_files(dir.path());
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(std::fs::read(dir.path().join(&left[0])).unwrap(), new);

    let out = write_with(&file, "abort-after-rename");
    assert_eq!(out.status.signal(), Some(SIGABRT), "{out:?}");
    assert_eq!(std::fs::read(&file).unwrap(), new, "entirely new");
    assert_eq!(
        temp_files(dir.path()),
        Vec::<String>::new(),
        "stale one removed"
    );
}

/// `fix --write FILE` with a file size limit of `limit` bytes (and no core dump): the kernel
/// kills the process with SIGXFSZ inside the write that would pass the limit.
fn write_limited(file: &Path, limit: u64) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_priorityguard"));
    cmd.args(["fix", "--write", &file.display().to_string()])
        .current_dir(file.parent().unwrap())
        .stdin(Stdio::null());
    // SAFETY: only setrlimit between fork and exec, on values copied into the closure.
    unsafe {
        cmd.pre_exec(move || {
            for (resource, value) in [(libc::RLIMIT_FSIZE, limit), (libc::RLIMIT_CORE, 0)] {
                let rlim = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                if libc::setrlimit(resource, &rlim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.output().unwrap()
}

#[test]
fn a_kill_inside_the_write_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let (file, old, new) = setup(dir.path());
    let len = u64::try_from(new.len()).unwrap();
    let mut outcomes = BTreeSet::new();
    // Killed at the first byte, halfway, at the last byte; then a limit the write fits in.
    for limit in [1, len / 2, len - 1, len] {
        std::fs::write(&file, &old).unwrap();
        let out = write_limited(&file, limit);
        let now = std::fs::read(&file).unwrap();
        if limit < len {
            assert_eq!(
                out.status.signal(),
                Some(libc::SIGXFSZ),
                "killed inside the write at byte {limit}: {out:?}"
            );
            assert!(
                now == old,
                "killed at byte {limit} of {len}: not the old file"
            );
            outcomes.insert("old");
        } else {
            assert_eq!(out.status.code(), Some(0), "{out:?}");
            assert!(now == new, "a write that fits: not the new file");
            outcomes.insert("new");
        }
    }
    assert_eq!(outcomes, BTreeSet::from(["new", "old"]));
    // The killed runs' temporary files are gone: each next run removed its predecessor's.
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

#[test]
fn sigkill_at_any_moment_leaves_the_old_or_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let (file, old, new) = setup(dir.path());
    for i in 0..30u64 {
        std::fs::write(&file, &old).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_priorityguard"))
            .args(["fix", "--write", &file.display().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over the run (a run takes tens of milliseconds).
        std::thread::sleep(std::time::Duration::from_micros(i * 2_000));
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read(&file).unwrap();
        assert!(now == old || now == new, "partial file after a kill at {i}");
    }
}

/// A writer that edits the file in place after the last check before the swap: the swap
/// displaces the edited file, the check after it sees the edit, and the swap back restores it.
#[test]
fn an_in_place_edit_just_before_the_swap_is_put_back_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (file, old, _) = setup(dir.path());
    let out = write_with(&file, "change-before-rename");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("changed since it was read; left as it was"),
        "{stderr}"
    );
    let mut edited = old.clone();
    edited.extend_from_slice(b"# a concurrent edit\n");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        edited,
        "the writer's edit is kept"
    );
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

/// A writer that renames its own file over the original just before the swap: the swap
/// displaces that file, the check sees it is not the one read, and the swap back restores it.
#[test]
fn a_file_renamed_over_it_just_before_the_swap_is_put_back_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _, _) = setup(dir.path());
    let out = write_with(&file, "replace-before-rename");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("changed since it was read; left as it was"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "# a concurrent replacement\n"
    );
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}
