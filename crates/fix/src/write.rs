//! Replacing a file atomically: a reader (or a crash) sees the old file or the new one,
//! never a mix.
//!
//! The new text goes to a temporary file in the same directory (same filesystem, so the
//! rename is atomic), gets the original's mode and owner, is fsynced, and is renamed over the
//! original only if the original still holds what was read. Any failure removes the
//! temporary file and leaves the original untouched.
//!
//! A process killed between creating and renaming its temporary file leaves that file behind
//! (complete, since it is synced first); the next write of the same file removes it once its
//! process is gone.
//!
//! Tests can make the last step fail through the `PRIORITYGUARD_FIX_FAILPOINT` environment
//! variable: `rename` makes the rename return an error, `abort-before-rename` and
//! `abort-after-rename` kill the process (SIGABRT) just before or after it.

use crate::FixError;
use crate::source::Source;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const FAILPOINT_VAR: &str = "PRIORITYGUARD_FIX_FAILPOINT";

/// Temporary files are named `.<name>.priorityguard-<pid>-<n>.tmp`.
pub const TEMP_MARKER: &str = ".priorityguard-";

/// Writes `new` over the file `source` was read from.
pub fn write_atomic(source: &Source, new: &str) -> Result<(), FixError> {
    let file = source.name.to_string();
    let fail = |step: &'static str| {
        let file = file.clone();
        move |source: io::Error| FixError::Write { file, step, source }
    };
    let path = source
        .path
        .as_deref()
        .ok_or_else(|| fail("write")(io::Error::other("standard input has no file")))?;
    // Write through a symlink to its target: renaming over the link would replace it.
    let target = fs::canonicalize(path).map_err(fail("resolve the path"))?;
    let meta = fs::metadata(&target).map_err(fail("read the file's mode"))?;
    let dir = target.parent().unwrap_or(Path::new("."));
    let (mut tmp, tmp_path) = create_temp(dir, &target).map_err(fail("create a temporary file"))?;
    let guard = Remove(Some(tmp_path.clone()));

    tmp.write_all(new.as_bytes())
        .map_err(fail("write the temporary file"))?;
    tmp.set_permissions(meta.permissions())
        .map_err(fail("keep the file's mode"))?;
    keep_owner(&tmp, &meta).map_err(fail("keep the file's owner"))?;
    tmp.sync_all().map_err(fail("sync the temporary file"))?;
    drop(tmp);

    if !unchanged(&target, source) {
        return Err(FixError::Changed { file });
    }
    let failpoint = std::env::var(FAILPOINT_VAR).unwrap_or_default();
    if failpoint == "abort-before-rename" {
        std::process::abort();
    }
    if failpoint == "rename" {
        return Err(fail("rename the temporary file over it")(io::Error::other(
            format!("injected failure ({FAILPOINT_VAR}=rename)"),
        )));
    }
    fs::rename(&tmp_path, &target).map_err(fail("rename the temporary file over it"))?;
    guard.disarm();
    if failpoint == "abort-after-rename" {
        std::process::abort();
    }
    // Make the rename itself durable; the file is already replaced, so a failure here is not
    // worth reporting as one.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn create_temp(dir: &Path, target: &Path) -> io::Result<(File, PathBuf)> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_stale(dir, &name);
    let mut attempt = 0u32;
    loop {
        let path = dir.join(format!(
            ".{name}{TEMP_MARKER}{}-{attempt}.tmp",
            std::process::id()
        ));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Removes temporary files of `name` left by processes that no longer run (Linux: a process
/// runs while `/proc/<pid>` exists; elsewhere nothing is removed).
fn remove_stale(dir: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!(".{name}{TEMP_MARKER}");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && rest.ends_with(".tmp")
            && !Path::new("/proc").join(pid.to_string()).exists()
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(unix)]
fn keep_owner(tmp: &File, original: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mine = tmp.metadata()?;
    if (mine.uid(), mine.gid()) == (original.uid(), original.gid()) {
        return Ok(());
    }
    std::os::unix::fs::fchown(tmp, Some(original.uid()), Some(original.gid()))
}

#[cfg(not(unix))]
fn keep_owner(_: &File, _: &fs::Metadata) -> io::Result<()> {
    Ok(())
}

/// The file still has the size, modification time and content it had when it was read.
fn unchanged(path: &Path, source: &Source) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    if source.stamp != Some((meta.len(), meta.modified().ok())) {
        return false;
    }
    fs::read(path).is_ok_and(|now| now == source.text.as_bytes())
}

/// Removes the temporary file unless the rename consumed it.
struct Remove(Option<PathBuf>);

impl Remove {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Remove {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}
