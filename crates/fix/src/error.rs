use pg_model::visible;
use std::io;

/// Why a file was not fixed. Every message is one line that starts with the file's name (made
/// [`visible`]), and says that the file was left as it was.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("{}: cannot read it: {}", visible(file), describe(source))]
    Read { file: String, source: io::Error },
    #[error("{}: invalid UTF-8; manifests must be UTF-8 text", visible(file))]
    NotUtf8 { file: String },
    /// The audit reads UTF-16 (as kubectl does); fixes are written as the file's own bytes,
    /// which would need a UTF-16 writer for one rare case.
    #[error(
        "{}: UTF-16 text, which fix does not write; convert it to UTF-8 (iconv -f UTF-16 -t \
         UTF-8) and run fix again; left as it was",
        visible(file)
    )]
    Utf16 { file: String },
    #[error(
        "{}:{line}:{col}: cannot parse it to fix it: {}",
        visible(file),
        visible(message)
    )]
    Parse {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    /// The fixed text failed its own re-parse or re-audit: a bug, caught before writing.
    #[error(
        "{}: the fixed text {}; left as it was",
        visible(file),
        visible(problem)
    )]
    Verify { file: String, problem: String },
    #[error(
        "{}: changed since it was read; left as it was (run fix again)",
        visible(file)
    )]
    Changed { file: String },
    /// A second writer replaced the file while the first one's change was being put back:
    /// nothing is deleted, and the file that would have been is named.
    #[error(
        "{}: changed twice while it was being written; left as the last writer made it, and the \
         version it replaced is kept as {}",
        visible(file),
        visible(kept)
    )]
    ChangedTwice { file: String, kept: String },
    /// Replacing a file by rename gives the new text to this name only; the other names would
    /// keep the old text without anyone noticing.
    #[error(
        "{}: has {links} hard links, which a rename would silently separate; left as it was \
         (apply `fix --diff` to it by hand, or remove the other links)",
        visible(file)
    )]
    HardLinks { file: String, links: u64 },
    #[error(
        "{}: a symlink to {}, outside the paths given; not written (name the link or its \
         target to fix it); left as it was",
        visible(file),
        visible(target)
    )]
    OutsideInputs { file: String, target: String },
    #[error(
        "{}: cannot {step}: {}; left as it was",
        visible(file),
        describe(source)
    )]
    Write {
        file: String,
        step: &'static str,
        source: io::Error,
    },
    #[error("{}: {source}", visible(file))]
    Io { file: String, source: io::Error },
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn io_errors_read_as_plain_words_after_the_file_name() {
        // What open(2) gives (ENOENT, EACCES), not the OS's "(os error 2)" wording.
        let read = |errno| FixError::Read {
            file: "deploy/multus.yaml".into(),
            source: io::Error::from_raw_os_error(errno),
        };
        assert_eq!(
            read(2).to_string(),
            "deploy/multus.yaml: cannot read it: no such file or directory"
        );
        assert_eq!(
            read(13).to_string(),
            "deploy/multus.yaml: cannot read it: permission denied"
        );
        let write = FixError::Write {
            file: "deploy/multus.yaml".into(),
            step: "rename the temporary file over it",
            source: io::Error::other("disk quota exceeded"),
        };
        assert_eq!(
            write.to_string(),
            "deploy/multus.yaml: cannot rename the temporary file over it: disk quota exceeded; left as it was"
        );
    }
}
