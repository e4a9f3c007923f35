//! Atomic writes: mode and content as expected, symlinks followed, and a file that changed
//! since it was read is left alone. (Failing renames and crashes are injected through the
//! binary, in crates/cli/tests/fix_crash.rs, since they need a process of their own.)

use pg_fix::{FixError, Source, TEMP_MARKER, check_within, write_atomic};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(TEMP_MARKER))
        .collect()
}

#[test]
fn replaces_the_content_and_keeps_the_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ds.yaml");
    std::fs::write(&path, "a: 1\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let source = Source::read(&path).unwrap();
    write_atomic(&source, "a: 2\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 2\n");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn writes_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.yaml");
    let link = dir.path().join("link.yaml");
    std::fs::write(&real, "a: 1\n").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let source = Source::read(&link).unwrap();
    write_atomic(&source, "a: 2\n").unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "a: 2\n");
}

#[test]
fn a_file_changed_since_it_was_read_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ds.yaml");
    std::fs::write(&path, "a: 1\n").unwrap();
    let source = Source::read(&path).unwrap();
    // Same size: only the content (or the modification time) tells.
    std::fs::write(&path, "a: 3\n").unwrap();
    let err = write_atomic(&source, "a: 2\n").unwrap_err();
    assert!(matches!(err, FixError::Changed { .. }), "{err}");
    assert!(err.to_string().starts_with(&path.display().to_string()));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 3\n");
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn an_unwritable_directory_is_one_error_and_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ds.yaml");
    std::fs::write(&path, "a: 1\n").unwrap();
    let source = Source::read(&path).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o500)).unwrap();
    let result = write_atomic(&source, "a: 2\n");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // Root ignores directory permissions; then the write simply succeeds.
    match result {
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains("left as it was"), "{message}");
            assert_eq!(message.lines().count(), 1);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 1\n");
        }
        Ok(()) => assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 2\n"),
    }
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn a_file_with_hard_links_is_refused_rather_than_separated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ds.yaml");
    let other = dir.path().join("other-name.yaml");
    std::fs::write(&path, "a: 1\n").unwrap();
    std::fs::hard_link(&path, &other).unwrap();
    let source = Source::read(&path).unwrap();
    let err = write_atomic(&source, "a: 2\n").unwrap_err();
    assert!(matches!(err, FixError::HardLinks { links: 2, .. }), "{err}");
    assert!(err.to_string().contains("hard links"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 1\n");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "a: 1\n");
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn a_file_renamed_over_since_it_was_read_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ds.yaml");
    std::fs::write(&path, "a: 1\n").unwrap();
    let source = Source::read(&path).unwrap();
    // Same content, another file: an editor saved it meanwhile.
    let saved = dir.path().join("saved");
    std::fs::write(&saved, "a: 1\n").unwrap();
    std::fs::rename(&saved, &path).unwrap();
    let err = write_atomic(&source, "a: 2\n").unwrap_err();
    assert!(matches!(err, FixError::Changed { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 1\n");
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn names_with_control_characters_are_shown_escaped_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x\n::error file=README.md::pwned.yaml");
    std::fs::write(&path, "a: 1\n").unwrap();
    let source = Source::read(&path).unwrap();
    std::fs::write(&path, "a: 3\n").unwrap();
    let message = write_atomic(&source, "a: 2\n").unwrap_err().to_string();
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("\\n::error file=README.md::pwned.yaml\""),
        "{message}"
    );
}

#[test]
fn a_missing_file_is_one_line_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("multus.yaml");
    let message = Source::read(&path).unwrap_err().to_string();
    assert_eq!(
        message,
        format!(
            "{}: cannot read it: no such file or directory",
            path.display()
        )
    );
}

#[test]
fn utf16_and_invalid_utf8_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "le.yaml",
            b"\xff\xfek\x00i\x00n\x00d\x00",
            "UTF-16 text, which fix does not write",
        ),
        (
            "be.yaml",
            b"\xfe\xff\x00k\x00i\x00n\x00d",
            "UTF-16 text, which fix does not write",
        ),
        ("latin1.yaml", b"name: caf\xe9\n", "invalid UTF-8"),
    ];
    for (name, bytes, reason) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let message = Source::read(&path).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("{}: {reason}", path.display())),
            "{message}"
        );
    }
}

#[test]
fn a_symlink_to_a_file_outside_the_inputs_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, elsewhere) = (dir.path().join("repo"), dir.path().join("elsewhere"));
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let target = elsewhere.join("multus.yaml");
    std::fs::write(&target, "a: 1\n").unwrap();
    let inside = repo.join("coredns.yaml");
    std::fs::write(&inside, "a: 1\n").unwrap();
    let link = repo.join("multus.yaml");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    let source = Source::read(&link).unwrap();
    let err = check_within(&source, std::slice::from_ref(&repo)).unwrap_err();
    assert!(matches!(err, FixError::OutsideInputs { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: a symlink to {}, outside the paths given; not written (name the link or its target to fix it); left as it was",
            link.display(),
            std::fs::canonicalize(&target).unwrap().display()
        )
    );
    // Named itself, or with its target's directory, the link is an input.
    check_within(&source, std::slice::from_ref(&link)).unwrap();
    check_within(&source, &[repo.clone(), elsewhere]).unwrap();
    check_within(&Source::read(&inside).unwrap(), &[repo]).unwrap();
    check_within(&Source::stdin("a: 1\n".into()), &[]).unwrap();
}

#[test]
fn standard_input_has_no_file_to_write() {
    let err = write_atomic(&Source::stdin("a: 1\n".into()), "a: 2\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "<stdin>: cannot write: standard input has no file; left as it was"
    );
}

#[test]
fn a_dead_runs_temporary_file_is_removed_and_a_live_ones_name_is_stepped_around() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("multus.yaml");
    std::fs::write(&path, "a: 1\n").unwrap();
    // Above Linux's highest possible pid (PID_MAX_LIMIT, 4194304): no such process runs.
    let stale = format!(".multus.yaml{TEMP_MARKER}4194305-0.tmp");
    // This process's own first name: a run of ours still going (create_new must not take it).
    let live = format!(".multus.yaml{TEMP_MARKER}{}-0.tmp", std::process::id());
    std::fs::write(dir.path().join(&stale), "half a file").unwrap();
    std::fs::write(dir.path().join(&live), "another run's file").unwrap();
    let source = Source::read(&path).unwrap();
    write_atomic(&source, "a: 2\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 2\n");
    assert_eq!(temp_files(dir.path()), std::slice::from_ref(&live));
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&live)).unwrap(),
        "another run's file"
    );
}

#[test]
fn the_new_file_keeps_the_owner_of_the_old_one() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("multus.yaml");
    std::fs::write(&path, "a: 1\n").unwrap();
    // Root (as in CI) can give the file to another user, as a repository checked out by one
    // user and fixed by `sudo priorityguard fix --write` would be; others can only keep theirs.
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let owner = if root {
        (1234, 5678)
    } else {
        {
            let m = std::fs::metadata(&path).unwrap();
            (m.uid(), m.gid())
        }
    };
    std::os::unix::fs::chown(&path, Some(owner.0), Some(owner.1)).unwrap();
    let source = Source::read(&path).unwrap();
    write_atomic(&source, "a: 2\n").unwrap();
    let after = std::fs::metadata(&path).unwrap();
    assert_eq!((after.uid(), after.gid()), owner);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 2\n");
}
