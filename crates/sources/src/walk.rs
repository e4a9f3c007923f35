//! Expands directories into the manifest files below them, as ripgrep walks: honouring
//! `.gitignore`-style ignore files, skipping hidden files with a note, not following links to
//! directories unless asked (`--follow`, which reports symlink loops). Links to files are read;
//! [`crate::load`] reads each real file once however many paths reach it.

use pg_model::InputProblem;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One command-line input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    /// `-`
    Stdin,
}

impl Input {
    pub fn parse(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }
}

pub struct FileInput {
    pub path: PathBuf,
    /// Named on the command line (read whatever its extension) rather than found in a walk.
    pub explicit: bool,
}

pub struct Expanded {
    pub files: Vec<FileInput>,
    pub problems: Vec<InputProblem>,
    /// Links to directories not followed, for `--verbose`.
    pub quiet: Vec<InputProblem>,
}

/// File names a directory walk picks up: YAML and JSON, also as Jinja2 templates
/// (`*.yml.j2`); other templates (`*.conf.j2`) are not manifests.
pub fn is_manifest_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    let base = [".j2", ".jinja2", ".jinja"]
        .iter()
        .find_map(|t| name.strip_suffix(t))
        .unwrap_or(&name);
    [".yaml", ".yml", ".json"].iter().any(|e| base.ends_with(e))
        || crate::helm::is_helpers_file(path)
}

/// What makes two paths the same file: device and inode (the canonical path elsewhere).
#[cfg(unix)]
pub fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
pub fn identity(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// Whether a directory on the way to `path` is a symbolic link.
pub fn through_link(path: &Path) -> bool {
    path.ancestors().skip(1).any(Path::is_symlink)
}

pub fn expand(path: &Path, follow: bool) -> Expanded {
    let mut out = Expanded {
        files: Vec::new(),
        problems: Vec::new(),
        quiet: Vec::new(),
    };
    match std::fs::metadata(path) {
        Err(e) => out.problems.push(InputProblem {
            source: path.display().to_string(),
            message: crate::file::describe_io_error(&e),
            skipped: false,
        }),
        Ok(m) if !m.is_dir() => out.files.push(FileInput {
            path: path.to_path_buf(),
            explicit: true,
        }),
        Ok(_) => walk_dir(path, follow, &mut out),
    }
    out
}

fn walk_dir(root: &Path, follow: bool, out: &mut Expanded) {
    let hidden: Arc<Mutex<Vec<PathBuf>>> = Arc::default();
    let seen_hidden = Arc::clone(&hidden);
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .follow_links(follow)
        // Ignore files apply even outside a git repository: users keep manifests anywhere.
        .require_git(false)
        .sort_by_file_path(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            let name = e.file_name().to_string_lossy();
            if e.depth() == 0 || !name.starts_with('.') {
                return true;
            }
            if name != ".git" {
                seen_hidden
                    .lock()
                    .expect("not poisoned")
                    .push(e.path().to_path_buf());
            }
            false
        })
        .build();
    for entry in walker {
        match entry {
            Ok(e) => {
                let Some(t) = e.file_type() else { continue };
                if t.is_symlink() && e.depth() > 0 {
                    // Only reached without --follow: ignore follows links itself otherwise.
                    match std::fs::metadata(e.path()) {
                        Ok(m) if m.is_dir() => out.quiet.push(InputProblem {
                            source: e.path().display().to_string(),
                            message: "link to a directory, not followed (--follow reads it)".into(),
                            skipped: true,
                        }),
                        Ok(_) if is_manifest_name(e.path()) => out.files.push(FileInput {
                            path: e.into_path(),
                            explicit: false,
                        }),
                        Ok(_) => {}
                        Err(err) => out.quiet.push(InputProblem {
                            source: e.path().display().to_string(),
                            message: format!(
                                "link not followed: {}",
                                crate::file::describe_io_error(&err)
                            ),
                            skipped: true,
                        }),
                    }
                } else if t.is_file() && is_manifest_name(e.path()) {
                    out.files.push(FileInput {
                        path: e.into_path(),
                        explicit: false,
                    });
                }
            }
            Err(err) => out.problems.push(walk_problem(root, err)),
        }
    }
    for path in hidden.lock().expect("not poisoned").drain(..) {
        if path.is_dir() || is_manifest_name(&path) {
            out.problems.push(InputProblem {
                source: path.display().to_string(),
                message: "hidden, skipped (name it explicitly to audit it)".into(),
                skipped: true,
            });
        }
    }
}

fn walk_problem(root: &Path, err: ignore::Error) -> InputProblem {
    let (path, message) = loop_or_io(&err);
    InputProblem {
        source: path.unwrap_or_else(|| root.display().to_string()),
        message,
        skipped: false,
    }
}

fn loop_or_io(err: &ignore::Error) -> (Option<String>, String) {
    match err {
        ignore::Error::WithPath { path, err } => {
            (Some(path.display().to_string()), loop_or_io(err).1)
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            loop_or_io(err)
        }
        ignore::Error::Loop { ancestor, child } => (
            Some(child.display().to_string()),
            format!(
                "symlink loop: points back to {}; not followed",
                ancestor.display()
            ),
        ),
        ignore::Error::Io(e) => (None, crate::file::describe_io_error(e)),
        other => (None, other.to_string()),
    }
}
