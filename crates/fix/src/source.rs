//! A file as it was read, with what `fstat` said about it, so that a write can tell whether it
//! changed in the meantime.

use crate::FixError;
use std::fs::File;
use std::io::{self, Read};
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
    /// The file's stamp once read; `None` for standard input. (Not its descriptor: a run that
    /// fixes thousands of files would run out of them. The write opens the file again and
    /// checks that it is the same one.)
    pub(crate) stamp: Option<Stamp>,
}

/// The file a [`Source`] was read from, opened again for the write: its descriptor keeps
/// naming the same file whatever is renamed over its path.
pub(crate) struct Original {
    pub(crate) file: File,
    pub(crate) stamp: Stamp,
}

/// What `fstat` says about a file: which file it is, its size, when its content last changed
/// and how many names it has. (Not the status-change time: the swap itself moves it.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// Device and inode: the file's identity, whatever its name.
    pub(crate) id: (u64, u64),
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
    pub(crate) links: u64,
}

impl Stamp {
    #[cfg(unix)]
    pub(crate) fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            id: (meta.dev(), meta.ino()),
            len: meta.len(),
            modified: meta.modified().ok(),
            links: meta.nlink(),
        }
    }

    #[cfg(not(unix))]
    pub(crate) fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            id: (0, 0),
            len: meta.len(),
            modified: meta.modified().ok(),
            links: 1,
        }
    }
}

impl Original {
    /// The file still has the size, modification time and content it had when it was read. Reads through
    /// the open descriptor, so this is about the file that was read even if its path now names
    /// another one.
    pub(crate) fn unchanged(&self, text: &[u8]) -> io::Result<bool> {
        if Stamp::of(&self.file.metadata()?) != self.stamp {
            return Ok(false);
        }
        same_content(&self.file, text)
    }
}

/// Whether `file` holds exactly `expected`, compared a block at a time from offset 0.
fn same_content(file: &File, expected: &[u8]) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 << 10];
    let mut at = 0usize;
    loop {
        let n = read_at(file, &mut buf, at as u64)?;
        if n == 0 {
            return Ok(at == expected.len());
        }
        if expected.get(at..at + n) != Some(&buf[..n]) {
            return Ok(false);
        }
        at += n;
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

#[cfg(not(unix))]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.read(buf)
}

impl Source {
    pub fn read(path: &Path) -> Result<Source, FixError> {
        let name = path.display().to_string();
        let io = |source| FixError::Read {
            file: name.clone(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        // Taken after reading: a write that lands during the read changes it, and then the
        // text (whatever mix it is) is never written back.
        let stamp = Stamp::of(&file.metadata().map_err(io)?);
        if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
            return Err(FixError::Utf16 { file: name });
        }
        let text =
            String::from_utf8(bytes).map_err(|_| FixError::NotUtf8 { file: name.clone() })?;
        Ok(Source {
            name: name.into(),
            path: Some(path.to_path_buf()),
            text,
            stamp: Some(stamp),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_compares_every_block_and_the_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("multus.yaml");
        // More than two 64 KiB blocks, so the comparison must go on past the first.
        let text: Vec<u8> = b"      - name: kube-multus\n"
            .iter()
            .copied()
            .cycle()
            .take(150_000)
            .collect();
        std::fs::write(&path, &text).unwrap();
        let file = File::open(&path).unwrap();
        assert!(same_content(&file, &text).unwrap());
        assert!(
            !same_content(&file, &text[..text.len() - 1]).unwrap(),
            "shorter"
        );
        let longer = [text.as_slice(), b"\n"].concat();
        assert!(!same_content(&file, &longer).unwrap(), "longer");
        let mut other = text.clone();
        other[140_000] = b'X';
        assert!(
            !same_content(&file, &other).unwrap(),
            "a byte in the last block"
        );
        let empty = dir.path().join("empty.yaml");
        std::fs::write(&empty, "").unwrap();
        assert!(same_content(&File::open(&empty).unwrap(), b"").unwrap());
    }

    /// The stamp catches what the content cannot: a write of the same bytes (an editor's
    /// save, `touch`) and a new hard link, which the rename would silently cut off.
    #[cfg(unix)]
    #[test]
    fn a_file_with_the_same_bytes_but_touched_or_linked_is_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("multus.yaml");
        let text = b"kind: DaemonSet\n";
        std::fs::write(&path, text).unwrap();
        let original = |path: &Path| {
            let file = File::open(path).unwrap();
            let stamp = Stamp::of(&file.metadata().unwrap());
            Original { file, stamp }
        };
        let read = original(&path);
        assert!(read.unchanged(text).unwrap());
        std::fs::hard_link(&path, dir.path().join("multus-link.yaml")).unwrap();
        assert!(!read.unchanged(text).unwrap(), "a second name");

        let read = original(&path);
        assert!(read.unchanged(text).unwrap());
        let later = read.stamp.modified.unwrap() + std::time::Duration::from_secs(5);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(!read.unchanged(text).unwrap(), "written again, same bytes");
    }

    #[cfg(unix)]
    #[test]
    fn a_read_error_is_returned_not_retried() {
        // A descriptor open for writing only cannot be read (EBADF): only EINTR is retried.
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("x.yaml")).unwrap();
        let err = same_content(&file, b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(9), "{err}");
    }
}
