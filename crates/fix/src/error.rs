use std::io;

/// Why a file was not fixed. Every message is one line that starts with the file's name, and
/// says that the file was left as it was.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("{file}: cannot read it: {}", describe(source))]
    Read { file: String, source: io::Error },
    #[error("{file}: invalid UTF-8; manifests must be UTF-8 text")]
    NotUtf8 { file: String },
    #[error("{file}:{line}:{col}: cannot parse it to fix it: {message}")]
    Parse {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    /// The fixed text failed its own re-parse or re-audit: a bug, caught before writing.
    #[error("{file}: the fixed text {problem}; left as it was")]
    Verify { file: String, problem: String },
    #[error("{file}: changed since it was read; left as it was (run fix again)")]
    Changed { file: String },
    #[error("{file}: cannot {step}: {}; left as it was", describe(source))]
    Write {
        file: String,
        step: &'static str,
        source: io::Error,
    },
    #[error("{file}: {source}")]
    Io { file: String, source: io::Error },
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
