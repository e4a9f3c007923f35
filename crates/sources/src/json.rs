//! Streaming reader for large JSON inputs such as `kubectl get pods -A -o json` of a big cluster.
//!
//! A byte-level scanner finds the boundaries of each object (the items of a `List`, the
//! elements of a top-level array, or a whole top-level object) without building them; the
//! objects are then mapped to [`RawObject`] in parallel batches with `serde_json::from_slice`,
//! which skips unknown fields without storing them. Memory stays at a few batches whatever the
//! size of the input.

use crate::raw::{RawObject, Scalar};
use pg_model::Object;
use rayon::prelude::*;
use std::io::Read;

/// Objects larger than this are refused (no real Kubernetes object comes close: etcd's limit
/// is 1.5 MiB).
pub const MAX_OBJECT_BYTES: usize = 64 << 20;
const BATCH_BYTES: usize = 4 << 20;
const READ_CHUNK: usize = 1 << 20;

/// An object read from the stream, with the line where it starts.
pub struct Item {
    pub line: u32,
    pub object: Result<Option<Object>, ItemError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

#[derive(Default)]
struct Scan {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Offset (in `buf`) where the current unit began, and its starting line.
    unit_start: Option<(usize, u32)>,
    /// The depth at which units start: 1 inside a top-level array or `items` list, else 0.
    unit_depth: u32,
    /// Top-level object: the key whose value we are in, and the list's `kind`.
    top_key: Vec<u8>,
    key_start: Option<usize>,
    expecting_key: bool,
    list_kind: Option<String>,
    /// Inside a top-level object; its start is kept until we know it is not a List.
    in_top_object: bool,
    top_start: Option<(usize, u32)>,
}

/// Reads JSON values from `reader` and passes every object to `sink` in input order.
/// `keep_labels` as in [`RawObject::into_object`].
pub fn stream(
    mut reader: impl Read,
    keep_labels: Option<&[String]>,
    mut sink: impl FnMut(Item),
) -> Result<(), ItemError> {
    let mut buf: Vec<u8> = Vec::with_capacity(2 * READ_CHUNK);
    let mut pos = 0usize; // next byte to scan
    let mut line = 1u32; // line of buf[pos]
    let mut s = Scan::default();
    let mut batch: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut eof = false;

    loop {
        if pos == buf.len() {
            if eof {
                break;
            }
            // Keep only the unfinished unit (or top-level key) at the front of the buffer.
            let keep_from = [
                s.unit_start.map(|(o, _)| o),
                s.top_start.map(|(o, _)| o),
                s.key_start,
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(pos);
            buf.drain(..keep_from);
            pos -= keep_from;
            for offset in [
                s.unit_start.as_mut().map(|(o, _)| o),
                s.top_start.as_mut().map(|(o, _)| o),
                s.key_start.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                *offset -= keep_from;
            }
            if buf.len() > MAX_OBJECT_BYTES {
                return Err(ItemError {
                    line: s.unit_start.map_or(line, |(_, l)| l),
                    column: 1,
                    message: format!(
                        "a single object is larger than {} MiB; not a Kubernetes object",
                        MAX_OBJECT_BYTES >> 20
                    ),
                });
            }
            let old = buf.len();
            buf.resize(old + READ_CHUNK, 0);
            let n = read_full(&mut reader, &mut buf[old..]).map_err(|e| ItemError {
                line,
                column: 1,
                message: format!("read error: {e}"),
            })?;
            buf.truncate(old + n);
            if n == 0 {
                eof = true;
            }
            continue;
        }

        if s.in_string {
            if s.escaped {
                s.escaped = false;
                pos += 1;
                continue;
            }
            // Jump to the next byte that matters inside a string.
            let Some(off) = memchr::memchr3(b'"', b'\\', b'\n', &buf[pos..]) else {
                pos = buf.len();
                continue;
            };
            pos += off;
            match buf[pos] {
                b'\n' => line += 1,
                b'\\' => s.escaped = true,
                _ => {
                    s.in_string = false;
                    if let Some(k) = s.key_start.take() {
                        s.top_key.clear();
                        s.top_key.extend_from_slice(&buf[k..pos]);
                    }
                }
            }
            pos += 1;
            continue;
        }
        let b = buf[pos];
        match b {
            b'\n' => line += 1,
            b'"' => {
                s.in_string = true;
                if s.depth == 1 && s.in_top_object && s.expecting_key {
                    s.key_start = Some(pos + 1);
                } else if s.depth == 1
                    && s.in_top_object
                    && s.top_key == b"kind"
                    && s.list_kind.is_none()
                {
                    // The List's kind: read the whole string value.
                    if let Some(end) = memchr::memchr(b'"', &buf[pos + 1..]) {
                        s.list_kind =
                            Some(String::from_utf8_lossy(&buf[pos + 1..pos + 1 + end]).into());
                    }
                }
            }
            b'{' | b'[' => {
                if s.depth == s.unit_depth && s.unit_start.is_none() {
                    if s.depth == 0 && b == b'{' {
                        s.in_top_object = true;
                        s.top_start = Some((pos, line));
                        s.expecting_key = true;
                    } else if s.depth == 0 {
                        s.unit_depth = 1;
                    } else {
                        s.unit_start = Some((pos, line));
                    }
                } else if s.depth == 1 && s.in_top_object && b == b'[' && s.top_key == b"items" {
                    // A List: stream its items and forget the envelope.
                    s.unit_depth = 2;
                    s.top_start = None;
                }
                s.depth += 1;
                if s.depth > 100_000 {
                    return Err(ItemError {
                        line,
                        column: 1,
                        message: "JSON nested deeper than 100000 levels".into(),
                    });
                }
            }
            b'}' | b']' => {
                if s.depth == 0 {
                    return Err(ItemError {
                        line,
                        column: 1,
                        message: format!("unexpected '{}'", b as char),
                    });
                }
                s.depth -= 1;
                if s.depth == s.unit_depth
                    && let Some((start, l)) = s.unit_start.take()
                {
                    let bytes = buf[start..=pos].to_vec();
                    batch_bytes += bytes.len();
                    batch.push((l, bytes));
                    if batch_bytes >= BATCH_BYTES {
                        flush(&mut batch, &s.list_kind, keep_labels, &mut sink);
                        batch_bytes = 0;
                    }
                } else if s.depth + 1 == s.unit_depth && s.unit_depth > 0 {
                    // The end of the items list (or of the top-level array).
                    s.unit_depth = 0;
                }
                if s.depth == 0 {
                    // A top-level object that was not a List is one object of its own.
                    if let Some((start, l)) = s.top_start.take() {
                        batch.push((l, buf[start..=pos].to_vec()));
                    }
                    flush(&mut batch, &s.list_kind, keep_labels, &mut sink);
                    batch_bytes = 0;
                    s = Scan::default();
                }
            }
            b':' if s.depth == 1 && s.in_top_object => s.expecting_key = false,
            b',' if s.depth == 1 && s.in_top_object => s.expecting_key = true,
            b' ' | b'\t' | b'\r' | b',' | b':' => {}
            _ if s.depth == 0 => {
                return Err(ItemError {
                    line,
                    column: 1,
                    message: format!(
                        "expected a JSON object or array, found {:?}",
                        (b as char).escape_default().to_string()
                    ),
                });
            }
            _ => {}
        }
        pos += 1;
    }
    if s.depth > 0 || s.in_string {
        let started = s
            .unit_start
            .map(|(_, l)| l)
            .or(s.top_start.map(|(_, l)| l))
            .unwrap_or(line);
        return Err(ItemError {
            line,
            column: 1,
            message: format!("unexpected end of file in the value starting at line {started}"),
        });
    }
    flush(&mut batch, &s.list_kind, keep_labels, &mut sink);
    Ok(())
}

fn read_full(reader: &mut impl Read, mut out: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while !out.is_empty() {
        match reader.read(out) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                out = &mut out[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

fn flush(
    batch: &mut Vec<(u32, Vec<u8>)>,
    list_kind: &Option<String>,
    keep_labels: Option<&[String]>,
    sink: &mut impl FnMut(Item),
) {
    let item_kind = list_kind
        .as_deref()
        .and_then(|k| k.strip_suffix("List"))
        .filter(|k| !k.is_empty());
    let items: Vec<Item> = batch
        .par_iter()
        .map(|(line, bytes)| Item {
            line: *line,
            object: parse_item(bytes, *line, item_kind, keep_labels),
        })
        .collect();
    batch.clear();
    items.into_iter().for_each(sink);
}

fn parse_item(
    bytes: &[u8],
    line: u32,
    item_kind: Option<&str>,
    keep_labels: Option<&[String]>,
) -> Result<Option<Object>, ItemError> {
    let mut raw: RawObject = serde_json::from_slice(bytes).map_err(|e| ItemError {
        line: line + e.line() as u32 - 1,
        column: e.column() as u32,
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    })?;
    // Raw API lists (`PodList`) leave `kind` off their items.
    if raw.kind.is_none() {
        raw.kind = item_kind.map(|k| Scalar::Str(k.to_string()));
    }
    Ok(raw.into_object(keep_labels))
}
