//! Streaming reader for large JSON inputs such as `kubectl get pods -A -o json` of a big cluster.
//!
//! A byte-level scanner finds the boundaries of each object (the items of a `List`, the
//! elements of a top-level array, or a whole top-level object) without building them; the
//! objects are then mapped to [`RawObject`] in parallel batches with `serde_json::from_slice`,
//! which skips unknown fields without storing them. Memory stays at a few batches whatever the
//! size of the input.

use crate::blocks::{Found, Nested};
use crate::prune::skip_string;
use crate::raw::{RawObject, Scalar};
use pg_model::Object;
use rayon::prelude::*;
use std::io::Read;

/// Objects larger than this are refused, each with an error of its own, and the objects
/// after them are still read (no real Kubernetes object comes close: etcd's limit is
/// 1.5 MiB). A top-level value that is not a List is one object and is refused whole.
pub const MAX_OBJECT_BYTES: usize = 64 << 20;
const BATCH_BYTES: usize = 1 << 20;
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

/// A run of objects' bytes handed from the scanner to the parsers.
#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    /// Each object's starting line and its bytes' range in `data`, or why it was refused.
    items: Vec<(u32, Scanned)>,
    /// The enclosing List's kind when known (`PodList` items may lack `kind`).
    list_kind: Option<String>,
}

/// Reads JSON values from `reader` and passes every object to `sink` in input order.
/// `keep_labels` as in [`RawObject::into_object`].
///
/// One thread finds object boundaries while the others map finished batches, so reading
/// and parsing overlap.
pub fn stream(
    reader: impl Read + Send,
    keep_labels: Option<&[String]>,
    mut sink: impl FnMut(Item),
) -> Result<(), ItemError> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(2);
        let (used_tx, used_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let scanner = scope.spawn(move || Scanner::new(reader, tx, used_rx).run());
        for batch in rx {
            let item_kind = batch
                .list_kind
                .as_deref()
                .and_then(|k| k.strip_suffix("List"))
                .filter(|k| !k.is_empty());
            let items: Vec<Item> = batch
                .items
                .par_iter()
                .map(|(line, scanned)| Item {
                    line: *line,
                    object: match scanned {
                        Scanned::Bytes { range, in_list } => parse_item(
                            &batch.data[range.clone()],
                            *line,
                            item_kind,
                            *in_list,
                            keep_labels,
                        ),
                        Scanned::Refused(message) => Err(ItemError {
                            line: *line,
                            column: 1,
                            message: message.clone(),
                        }),
                    },
                })
                .collect();
            items.into_iter().for_each(&mut sink);
            // The scanner may be gone (it sent its last batch): then the buffer is dropped.
            let _ = used_tx.send(batch.data);
        }
        scanner.join().expect("the scanner does not panic")
    })
}

/// What the scanner found for one object.
enum Scanned {
    Bytes {
        range: std::ops::Range<usize>,
        /// An item of a List's `items` (not a top-level value).
        in_list: bool,
    },
    Refused(String),
}

/// The object being scanned: only its own brackets and strings matter until it closes.
struct Open {
    start: usize,
    line: u32,
    nested: Nested,
    /// Past [`MAX_OBJECT_BYTES`]: its bytes are no longer kept, only its brackets counted.
    too_large: bool,
}

fn too_large_message() -> String {
    format!(
        "a single value is larger than {} MiB; not a Kubernetes object (skipped; the values after it are read)",
        MAX_OBJECT_BYTES >> 20
    )
}

struct Scanner<R> {
    reader: R,
    tx: std::sync::mpsc::SyncSender<Batch>,
    /// Batches' buffers back from the parsers, to be filled again: a new megabyte for every
    /// batch would be new pages each time, which the kernel zeroes (7-10% of the CPU time).
    used: std::sync::mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    end: usize,
    pos: usize,
    eof: bool,
    /// `line` is the line number at offset `counted`; newlines are counted lazily.
    line: u32,
    counted: usize,
    depth: u32,
    /// The depth at which objects start: 1 in a top-level array, 2 in a List's `items`.
    unit_depth: u32,
    in_top_object: bool,
    expecting_key: bool,
    top_key: Vec<u8>,
    /// A top-level object's start, kept until we know it is not a List.
    top_start: Option<(usize, u32)>,
    open: Option<Open>,
    batch: Batch,
}

impl<R: Read> Scanner<R> {
    fn new(
        reader: R,
        tx: std::sync::mpsc::SyncSender<Batch>,
        used: std::sync::mpsc::Receiver<Vec<u8>>,
    ) -> Self {
        Scanner {
            reader,
            tx,
            used,
            buf: vec![0; 2 * READ_CHUNK],
            end: 0,
            pos: 0,
            eof: false,
            line: 1,
            counted: 0,
            depth: 0,
            unit_depth: 0,
            in_top_object: false,
            expecting_key: false,
            top_key: Vec::new(),
            top_start: None,
            open: None,
            batch: Batch::default(),
        }
    }

    fn line_at(&mut self, offset: usize) -> u32 {
        if offset > self.counted {
            self.line += memchr::memchr_iter(b'\n', &self.buf[self.counted..offset]).count() as u32;
            self.counted = offset;
        }
        self.line
    }

    fn error(&mut self, message: String) -> ItemError {
        let at = self.pos.min(self.end);
        ItemError {
            line: self.line_at(at),
            column: 1,
            message,
        }
    }

    /// Reads more input, keeping the bytes of unfinished values. `Ok(false)` at end of input.
    fn refill(&mut self) -> Result<bool, ItemError> {
        if self.eof {
            return Ok(false);
        }
        let keep_from = [
            self.open.as_ref().filter(|o| !o.too_large).map(|o| o.start),
            self.top_start.map(|(o, _)| o),
            Some(self.pos),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.pos);
        self.line_at(keep_from);
        self.buf.copy_within(keep_from..self.end, 0);
        self.end -= keep_from;
        self.pos -= keep_from;
        self.counted -= keep_from;
        if let Some(o) = self.open.as_mut() {
            o.start -= keep_from;
        }
        if let Some((o, _)) = self.top_start.as_mut() {
            *o -= keep_from;
        }
        // What is kept now belongs to one unfinished value.
        if self.end > MAX_OBJECT_BYTES {
            if self.open.is_none() || self.top_start.is_some() {
                return Err(self.error(format!(
                    "a single value is larger than {} MiB; not a Kubernetes object",
                    MAX_OBJECT_BYTES >> 20
                )));
            }
            // An item: refuse it alone, and only count its brackets to find its end.
            self.line_at(self.pos);
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.counted -= self.pos;
            self.pos = 0;
            let o = self.open.as_mut().expect("checked above");
            o.too_large = true;
            o.start = 0;
        }
        if self.buf.len() - self.end < READ_CHUNK {
            let len = self.buf.len();
            self.buf.resize(len * 2, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(format!("read error: {e}"))),
            }
        }
    }

    fn send(&mut self) {
        if !self.batch.items.is_empty() {
            let list_kind = self.batch.list_kind.clone();
            let mut data = self.used.try_recv().unwrap_or_default();
            data.clear();
            let full = std::mem::replace(
                &mut self.batch,
                Batch {
                    data,
                    list_kind,
                    ..Batch::default()
                },
            );
            // The receiver only goes away when the whole stream is being dropped.
            let _ = self.tx.send(full);
        }
    }

    fn push(&mut self, start: usize, end: usize, line: u32, in_list: bool) {
        let at = self.batch.data.len();
        self.batch.data.extend_from_slice(&self.buf[start..end]);
        let range = at..self.batch.data.len();
        self.batch
            .items
            .push((line, Scanned::Bytes { range, in_list }));
        if self.batch.data.len() >= BATCH_BYTES {
            self.send();
        }
    }

    fn run(mut self) -> Result<(), ItemError> {
        let result = self.scan();
        self.send();
        result
    }

    fn scan(&mut self) -> Result<(), ItemError> {
        loop {
            let progressed = if self.pos >= self.end {
                false
            } else if self.open.is_some() {
                self.scan_open()
            } else {
                self.scan_envelope()?
            };
            if !progressed && !self.refill()? {
                // The end of the input: an open object's last partial block is scanned now.
                if self.open.is_some() && self.pos < self.end && self.scan_open() {
                    continue;
                }
                break;
            }
        }
        if self.open.is_some() || self.depth > 0 {
            let started = self
                .open
                .as_ref()
                .map(|o| o.line)
                .or(self.top_start.map(|(_, l)| l))
                .unwrap_or(self.line);
            self.pos = self.end;
            return Err(self.error(format!(
                "unexpected end of file in the value starting at line {started}"
            )));
        }
        Ok(())
    }

    /// Inside an object: finds its end 64 bytes at a time ([`Nested`]); the buffer's last
    /// partial block waits for the next read unless the input has ended. `false` when the
    /// buffer ran out first.
    fn scan_open(&mut self) -> bool {
        let o = self.open.as_mut().expect("open");
        match o.nested.scan(&self.buf[..self.end], self.pos, self.eof) {
            Found::More(next) => {
                self.pos = next;
                false
            }
            Found::End(end) => {
                self.pos = end;
                let o = self.open.take().expect("open");
                if o.too_large || self.pos - o.start > MAX_OBJECT_BYTES {
                    self.batch
                        .items
                        .push((o.line, Scanned::Refused(too_large_message())));
                } else {
                    let in_list = self.unit_depth == 2;
                    self.push(o.start, self.pos, o.line, in_list);
                }
                true
            }
        }
    }

    /// Outside objects: the List envelope, top-level arrays, separators. `Ok(false)` when a
    /// string ran past the end of the buffer.
    fn scan_envelope(&mut self) -> Result<bool, ItemError> {
        let b = self.buf[self.pos];
        match b {
            b'"' => {
                let Some(after) = skip_string(&self.buf[..self.end], self.pos) else {
                    return Ok(false);
                };
                if self.depth == 1 && self.in_top_object {
                    let text = &self.buf[self.pos + 1..after - 1];
                    if self.expecting_key {
                        self.top_key = text.to_vec();
                    } else if self.top_key == b"kind" {
                        self.batch.list_kind = Some(String::from_utf8_lossy(text).into_owned());
                    }
                }
                self.pos = after;
                return Ok(true);
            }
            b'{' | b'[' if self.depth == self.unit_depth && self.depth > 0 => {
                let line = self.line_at(self.pos);
                let close = if b == b'{' { b'}' } else { b']' };
                self.open = Some(Open {
                    start: self.pos,
                    line,
                    nested: Nested::new(b, close),
                    too_large: false,
                });
                // The scan starts at the opening bracket.
                return Ok(true);
            }
            b'{' | b'[' => {
                if self.depth == 0 && b == b'{' {
                    self.in_top_object = true;
                    self.expecting_key = true;
                    self.top_start = Some((self.pos, self.line_at(self.pos)));
                } else if self.depth == 0 {
                    self.unit_depth = 1;
                } else if self.depth == 1
                    && self.in_top_object
                    && b == b'['
                    && self.top_key == b"items"
                {
                    // A List: its items are the objects; the envelope is not kept.
                    self.unit_depth = 2;
                    self.top_start = None;
                }
                self.depth += 1;
            }
            b'}' | b']' => {
                if self.depth == 0 {
                    return Err(self.error(format!("unexpected '{}'", b as char)));
                }
                self.depth -= 1;
                if self.unit_depth > 0 && self.depth + 1 == self.unit_depth {
                    self.unit_depth = 0;
                }
                if self.depth == 0 {
                    // A top-level object that was not a List is one object of its own.
                    if let Some((start, line)) = self.top_start.take() {
                        self.push(start, self.pos + 1, line, false);
                    }
                    self.send();
                    self.in_top_object = false;
                    self.batch.list_kind = None;
                    self.top_key.clear();
                }
            }
            b':' if self.depth == 1 && self.in_top_object => self.expecting_key = false,
            b',' if self.depth == 1 && self.in_top_object => self.expecting_key = true,
            b' ' | b'\t' | b'\r' | b'\n' | b',' | b':' => {}
            _ if self.depth == 0 => {
                return Err(self.error(format!(
                    "expected a JSON object or array, found {:?}",
                    (b as char).escape_default().to_string()
                )));
            }
            _ => {}
        }
        self.pos += 1;
        Ok(true)
    }
}

thread_local! {
    /// Each parsing thread's buffer for the cut-down object.
    static PRUNED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn parse_item(
    bytes: &[u8],
    line: u32,
    item_kind: Option<&str>,
    in_list: bool,
    keep_labels: Option<&[String]>,
) -> Result<Option<Object>, ItemError> {
    // Most of a pod is what no check reads (status, probes, environment): cut it away first,
    // then deserialize what is left. What the cut cannot read is deserialized whole, for
    // serde's own error.
    let pruned = PRUNED.with_borrow_mut(|buf| {
        crate::prune::prune(bytes, item_kind == Some("Pod"), keep_labels, buf)
            .and_then(|()| serde_json::from_slice::<RawObject>(buf).ok())
    });
    let mut raw: RawObject = match pruned {
        Some(raw) => raw,
        None => serde_json::from_slice(bytes).map_err(|e| ItemError {
            line: line + e.line() as u32 - 1,
            column: e.column() as u32,
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string(),
        })?,
    };
    if in_list && raw.is_list() {
        return Err(ItemError {
            line,
            column: 1,
            message: crate::file::NESTED_LIST.into(),
        });
    }
    // Raw API lists (`PodList`) leave `kind` off their items.
    if raw.kind.is_none() {
        raw.kind = item_kind.map(|k| Scalar::Str(k.to_string()));
    }
    let not_a_string = crate::file::non_string_name(&raw);
    match (raw.into_object(keep_labels), not_a_string) {
        (Some(_), Some(message)) => Err(ItemError {
            line,
            column: 1,
            message,
        }),
        (object, _) => Ok(object),
    }
}
