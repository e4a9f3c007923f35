//! A file as it was read, so that a write can tell whether it changed in the meantime.

use crate::FixError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// Files and standard input are named in findings' locations under this name.
pub const STDIN_NAME: &str = "<stdin>";

#[derive(Clone, Debug)]
pub struct Source {
    /// As the audit's locations name it.
    pub name: Arc<str>,
    /// `None` for standard input.
    pub path: Option<PathBuf>,
    pub text: String,
    /// Size and modification time when it was read.
    pub(crate) stamp: Option<(u64, Option<SystemTime>)>,
}

impl Source {
    pub fn read(path: &Path) -> Result<Source, FixError> {
        let name = path.display().to_string();
        let io = |source| FixError::Read {
            file: name.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        let bytes = std::fs::read(path).map_err(io)?;
        let text =
            String::from_utf8(bytes).map_err(|_| FixError::NotUtf8 { file: name.clone() })?;
        Ok(Source {
            name: name.into(),
            path: Some(path.to_path_buf()),
            text,
            stamp: Some((meta.len(), meta.modified().ok())),
        })
    }

    pub fn stdin(text: String) -> Source {
        Source {
            name: STDIN_NAME.into(),
            path: None,
            text,
            stamp: None,
        }
    }
}
