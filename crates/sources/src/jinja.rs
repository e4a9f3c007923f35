//! Jinja2 as Ansible roles write it (`*.yml.j2`), read without rendering: statements and
//! comments are blanked, expressions are handed to [`crate::template`] to become placeholders.

use crate::template::blank;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Blanks `{% statements %}` and `{# comments #}`; returns where the `{{ expressions }}` are.
pub(crate) fn set_aside_statements(_source: &str, bytes: &mut [u8]) -> Vec<Range<usize>> {
    let mut expressions: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while let Some(found) = memchr::memchr(b'{', &bytes[i..]) {
        let open = i + found;
        let Some(&next) = bytes.get(open + 1) else {
            break;
        };
        let close_pat: &[u8] = match next {
            b'{' => b"}}",
            b'%' => b"%}",
            b'#' => b"#}",
            _ => {
                i = open + 1;
                continue;
            }
        };
        let Some(rel) = memchr::memmem::find(&bytes[open + 2..], close_pat) else {
            break;
        };
        let end = open + 2 + rel + 2;
        if next == b'{' {
            expressions.push(open..end);
        } else {
            blank(&mut bytes[open..end]);
        }
        i = end;
    }
    expressions
}

/// `roles/<role>/defaults/main.yml` (or `defaults/main/*.yml`) for a file under
/// `roles/<role>/templates/`.
pub(crate) fn role_defaults(file: &Path) -> Vec<PathBuf> {
    let Some(role) = file
        .ancestors()
        .find(|d| d.file_name().is_some_and(|n| n == "templates"))
        .and_then(Path::parent)
    else {
        return Vec::new();
    };
    let defaults = role.join("defaults");
    let mut files: Vec<PathBuf> = ["main.yml", "main.yaml"]
        .iter()
        .map(|n| defaults.join(n))
        .filter(|p| p.is_file())
        .collect();
    if let Ok(dir) = std::fs::read_dir(defaults.join("main")) {
        let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    files
}
