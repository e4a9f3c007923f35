//! Replacing a file atomically, and only if nobody changed it since it was read: a reader (or
//! a crash) sees the old file or the new one, never a mix, and a concurrent writer's edit is
//! never overwritten.
//!
//! The steps, each of which gives up (and removes what it made) when the file changed:
//!
//! 1. Open the file again and check that it is the file that was read (device and inode) and
//!    that it has one link (a rename would break the others).
//! 2. Write the new text to a temporary file in the same directory (same filesystem, so the
//!    rename is atomic), give it the original's mode and owner, fsync it.
//! 3. Compare the original, through the open descriptor, with what was read: stamp (size,
//!    modification and status-change times) and every byte.
//! 4. Swap the two names in one step (Linux: `renameat2(RENAME_EXCHANGE)`), so the original is
//!    not gone but lies under the temporary name; check again that the file now displaced is
//!    the one that was read and still holds what was read. If anything changed between 3 and
//!    4, swap back: the writer's file is in place again, and nothing of it was lost.
//! 5. Remove the displaced original, fsync the directory.
//!
//! What no rename can close: a writer that opened the original before step 4 and writes into
//! it after the check in step 4 writes into a file that is no longer the one at its path.
//! The window is the duration of that last check (docs/fix.md, "Guarantees", has the figures).
//! Where `RENAME_EXCHANGE` is not available (not Linux, or a filesystem without it), step 4 is
//! a plain rename after step 3, and the window is from step 3 to the rename.
//!
//! A process killed before the swap leaves its temporary file (possibly partial, as it may
//! die while writing it); killed in the microseconds between the swap and step 5, the
//! displaced original (complete) under that name. Either way the file itself is whole, and
//! the next write of it removes the leftover once its process is gone.

use crate::FixError;
use crate::source::{Original, Source, Stamp};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Tests (and only tests: the feature is enabled by pg-cli's dev-dependency) make the write
/// fail or crash at chosen steps through this environment variable: `rename` makes the swap
/// return an error, `abort-before-rename` and `abort-after-rename` abort the process (SIGABRT)
/// just before the swap or right after the displaced original is removed, `change-before-rename` appends a line to the original (as an
/// in-place writer would) and `replace-before-rename` renames another file over it, both
/// after the last check before the swap; `measure-window` prints how long the window after
/// the swap lasted (from the swap to the end of the check of the displaced original).
#[cfg(feature = "failpoints")]
pub const FAILPOINT_VAR: &str = "PRIORITYGUARD_FIX_FAILPOINT";

/// Temporary files are named `.<name>.priorityguard-<pid>-<n>.tmp`.
pub const TEMP_MARKER: &str = ".priorityguard-";

/// Refuses a file that resolves (through symlinks) to a place outside every one of `inputs`,
/// the paths named on the command line: `fix --write dir/` must not rewrite what a link in
/// `dir/` points to elsewhere. A link named itself is its own input, so it is written.
pub fn check_within(source: &Source, inputs: &[PathBuf]) -> Result<(), FixError> {
    let Some(Ok(target)) = source.path.as_deref().map(fs::canonicalize) else {
        return Ok(());
    };
    let inside = inputs
        .iter()
        .filter_map(|i| fs::canonicalize(i).ok())
        .any(|root| target.starts_with(root));
    if inside {
        return Ok(());
    }
    Err(FixError::OutsideInputs {
        file: source.name.to_string(),
        target: target.display().to_string(),
    })
}

/// Writes `new` over the file `source` was read from.
pub fn write_atomic(source: &Source, new: &str) -> Result<(), FixError> {
    let file = source.name.to_string();
    let fail = |step: &'static str| {
        let file = file.clone();
        move |source: io::Error| FixError::Write { file, step, source }
    };
    let changed = || FixError::Changed { file: file.clone() };
    let (Some(path), Some(stamp)) = (source.path.as_deref(), source.stamp) else {
        return Err(fail("write")(io::Error::other(
            "standard input has no file",
        )));
    };
    // Write through a symlink to its target: renaming over the link would replace it.
    let target = fs::canonicalize(path).map_err(fail("resolve the path"))?;
    let original = Original {
        file: File::open(&target).map_err(fail("open the file again"))?,
        stamp,
    };
    let now = Stamp::of(
        &original
            .file
            .metadata()
            .map_err(fail("read the file's mode"))?,
    );
    if now.id != stamp.id {
        return Err(changed());
    }
    if now.links > 1 {
        return Err(FixError::HardLinks {
            file,
            links: now.links,
        });
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    let (mut tmp, tmp_path) = create_temp(dir, &target).map_err(fail("create a temporary file"))?;
    let mut guard = Remove(Some(tmp_path.clone()));

    tmp.write_all(new.as_bytes())
        .map_err(fail("write the temporary file"))?;
    let meta = original
        .file
        .metadata()
        .map_err(fail("read the file's mode"))?;
    tmp.set_permissions(meta.permissions())
        .map_err(fail("keep the file's mode"))?;
    keep_owner(&tmp, &meta).map_err(fail("keep the file's owner"))?;
    tmp.sync_all().map_err(fail("sync the temporary file"))?;
    let ours = Stamp::of(&tmp.metadata().map_err(fail("sync the temporary file"))?).id;
    drop(tmp);

    let text = source.text.as_bytes();
    if !original
        .unchanged(text)
        .map_err(fail("read the file again"))?
    {
        return Err(changed());
    }
    #[cfg(feature = "failpoints")]
    failpoint_before(&file, &target, &tmp_path)?;
    #[cfg(feature = "failpoints")]
    let swapped_at = std::time::Instant::now();
    match exchange(&tmp_path, &target) {
        Ok(true) => {
            // Both names exist: `target` is the new file, `tmp_path` what was at `target`.
            let displaced_is_original = fs::symlink_metadata(&tmp_path)
                .is_ok_and(|m| Stamp::of(&m).id == stamp.id)
                && original.unchanged(text).unwrap_or(false);
            #[cfg(feature = "failpoints")]
            if std::env::var(FAILPOINT_VAR).is_ok_and(|v| v == "measure-window") {
                eprintln!("window: {} ns", swapped_at.elapsed().as_nanos());
            }
            if !displaced_is_original {
                return Err(swap_back(&tmp_path, &target, ours, &file, guard));
            }
        }
        Ok(false) => {
            // No exchange here: the last check was step 3; plain rename.
            fs::rename(&tmp_path, &target).map_err(fail("rename the temporary file over it"))?;
            guard.0 = None;
        }
        Err(e) => return Err(fail("rename the temporary file over it")(e)),
    }
    // The displaced original (after an exchange) goes now; the guard removes it.
    drop(guard);
    #[cfg(feature = "failpoints")]
    failpoint_after();
    // Make the rename itself durable; the file is already replaced, so a failure here is not
    // worth reporting as one.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Undoes an exchange that displaced a changed file: the file at `tmp_path` goes back to
/// `target`. What comes back to `tmp_path` is removed only if it is our own new file; if
/// someone renamed another file over `target` in the meantime, that file is left where it
/// lands, and the error says where.
fn swap_back(
    tmp_path: &Path,
    target: &Path,
    ours: (u64, u64),
    file: &str,
    mut guard: Remove,
) -> FixError {
    if let Err(e) = exchange(tmp_path, target) {
        guard.0 = None;
        return FixError::Write {
            file: file.to_string(),
            step: "put back the file that changed during the write (it is now at the temporary file's name)",
            source: io::Error::other(format!("{e}; see {}", tmp_path.display())),
        };
    }
    let back_is_ours = fs::symlink_metadata(tmp_path).is_ok_and(|m| Stamp::of(&m).id == ours);
    if back_is_ours {
        return FixError::Changed {
            file: file.to_string(),
        };
    }
    guard.0 = None;
    FixError::ChangedTwice {
        file: file.to_string(),
        kept: tmp_path.display().to_string(),
    }
}

/// Swaps `from` and `to` in one step. `Ok(false)` where that is not possible (not Linux, or
/// a filesystem without `RENAME_EXCHANGE`): the caller renames instead.
#[cfg(target_os = "linux")]
fn exchange(from: &Path, to: &Path) -> io::Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
    let (from, to) = (c(from)?, c(to)?);
    // The system call itself: musl (the static build) has no `renameat2` wrapper before 1.2.5.
    // SAFETY: two NUL-terminated paths that live across the call; no memory is shared.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => Ok(false),
        _ => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<bool> {
    Ok(false)
}

#[cfg(feature = "failpoints")]
fn failpoint_before(file: &str, target: &Path, tmp_path: &Path) -> Result<(), FixError> {
    match std::env::var(FAILPOINT_VAR).unwrap_or_default().as_str() {
        "abort-before-rename" => std::process::abort(),
        "rename" => Err(FixError::Write {
            file: file.to_string(),
            step: "rename the temporary file over it",
            source: io::Error::other(format!("injected failure ({FAILPOINT_VAR}=rename)")),
        }),
        "change-before-rename" => {
            let mut f = OpenOptions::new().append(true).open(target).unwrap();
            f.write_all(b"# a concurrent edit\n").unwrap();
            Ok(())
        }
        "replace-before-rename" => {
            let other = tmp_path.with_extension("other");
            fs::write(&other, "# a concurrent replacement\n").unwrap();
            fs::rename(&other, target).unwrap();
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(feature = "failpoints")]
fn failpoint_after() {
    if std::env::var(FAILPOINT_VAR).is_ok_and(|v| v == "abort-after-rename") {
        std::process::abort();
    }
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

/// Removes the file at its path when dropped, unless emptied first.
struct Remove(Option<PathBuf>);

impl Drop for Remove {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}
