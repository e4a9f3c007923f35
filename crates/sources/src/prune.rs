//! Cuts a JSON object down to the fields [`RawObject`](crate::raw::RawObject) reads, without
//! building any value: the fields it names are copied, every other value is skipped (a
//! string with `memchr`, an object or array 64 bytes at a time by [`crate::blocks`]). A pod
//! from `kubectl get pods -o json` keeps about a tenth of its bytes (names, owner, labels the
//! checks read, containers' names, images and command lines, host paths), so deserializing
//! what is left costs little whatever `status`, probes and environment hold.
//!
//! Anything that does not read as JSON where a field is looked for makes [`prune`] give up
//! (`None`): the caller then deserializes the whole object and reports serde's own error.

/// Which fields of an object are kept, and how their values are cut in turn.
enum Shape {
    /// The value as it is.
    Whole,
    /// An object: these fields, each cut by its own shape; a value of another type as it is.
    Fields(&'static [(&'static [u8], Shape)]),
    /// An array whose elements are cut by the shape; a value of another type as it is.
    Each(&'static Shape),
    /// Another shape (shapes nest through it: a template holds a pod spec).
    Ref(&'static Shape),
    /// A pod's own labels: only the keys the checks read and those that name the tool that
    /// deploys it (all of them when not told which).
    Labels,
    /// Annotations: only those [`annotation_read`] names (the mirror-pod marker and the
    /// deployment tools' marks).
    Annotations,
}

use crate::blocks::skip_nested;
use crate::raw::annotation_read;
use Shape::{Annotations, Each, Fields, Labels, Ref, Whole};
use pg_model::MANAGED_BY_LABELS;

/// The fields of [`RawObject`](crate::raw::RawObject) and of the structs under it.
static OBJECT: Shape = Fields(&[
    (b"apiVersion", Whole),
    (b"kind", Whole),
    (b"metadata", Ref(&META)),
    (b"spec", Ref(&SPEC)),
    (b"value", Whole),
    (b"globalDefault", Whole),
    (b"preemptionPolicy", Whole),
    (b"plugins", Whole),
    (b"limitedResources", Whole),
    (b"webhooks", Whole),
]);
static META: Shape = Fields(&[
    (b"name", Whole),
    (b"namespace", Whole),
    (b"uid", Whole),
    (b"resourceVersion", Whole),
    (b"labels", Labels),
    (b"annotations", Annotations),
    (b"ownerReferences", Each(&OWNER)),
]);
/// A controller's template keeps all its labels (Services select them).
static TEMPLATE_META: Shape = Fields(&[
    (b"name", Whole),
    (b"namespace", Whole),
    (b"uid", Whole),
    (b"resourceVersion", Whole),
    (b"labels", Whole),
    (b"annotations", Annotations),
    (b"ownerReferences", Each(&OWNER)),
]);
static OWNER: Shape = Fields(&[(b"kind", Whole), (b"name", Whole), (b"controller", Whole)]);
static SPEC: Shape = Fields(&[
    (
        b"template",
        Fields(&[(b"metadata", Ref(&TEMPLATE_META)), (b"spec", Ref(&SPEC))]),
    ),
    (b"jobTemplate", Fields(&[(b"spec", Ref(&SPEC))])),
    (b"priorityClassName", Whole),
    (b"priority", Whole),
    (b"preemptionPolicy", Whole),
    (b"hostNetwork", Whole),
    (b"containers", Each(&CONTAINER)),
    (b"initContainers", Each(&CONTAINER)),
    (b"volumes", Each(&VOLUME)),
    (b"scopeSelector", Whole),
    (b"selector", Whole),
]);
static CONTAINER: Shape = Fields(&[
    (b"name", Whole),
    (b"image", Whole),
    (b"command", Whole),
    (b"args", Whole),
    (
        b"ports",
        Each(&Fields(&[(b"containerPort", Whole), (b"hostPort", Whole)])),
    ),
    (
        b"volumeMounts",
        Each(&Fields(&[(b"name", Whole), (b"readOnly", Whole)])),
    ),
    (
        b"securityContext",
        Fields(&[
            (b"capabilities", Fields(&[(b"add", Whole)])),
            (b"privileged", Whole),
        ]),
    ),
]);
static VOLUME: Shape = Fields(&[(b"name", Whole), (b"hostPath", Fields(&[(b"path", Whole)]))]);

/// `bytes` (one JSON object, as the scanner cut it) with only the fields priorityguard reads,
/// or `None` when it does not read as JSON where fields are looked for. `pod` says the object
/// is known to be a Pod (a `PodList` item): its own labels are then cut to `keep_labels`, as
/// [`RawObject::into_object`](crate::raw::RawObject::into_object) would.
pub fn prune(
    bytes: &[u8],
    pod: bool,
    keep_labels: Option<&[String]>,
    out: &mut Vec<u8>,
) -> Option<()> {
    out.clear();
    let mut p = Pruner {
        s: bytes,
        i: 0,
        out,
        pod,
        keep_labels,
        depth: 0,
        cut_labels: false,
    };
    p.ws();
    p.value(&OBJECT, true)?;
    p.ws();
    (p.i == bytes.len()).then_some(())
}

/// serde_json's own limit: deeper values are its error to report.
const MAX_DEPTH: u32 = 100;

struct Pruner<'a, 'o> {
    s: &'a [u8],
    i: usize,
    out: &'o mut Vec<u8>,
    pod: bool,
    keep_labels: Option<&'a [String]>,
    depth: u32,
    /// Labels were cut on the word of `pod`.
    cut_labels: bool,
}

impl Pruner<'_, '_> {
    /// Moves past whitespace; kubectl's indentation (runs of spaces after each newline) is
    /// passed eight bytes at a time.
    fn ws(&mut self) {
        loop {
            match self.s.get(self.i) {
                Some(b' ') if self.s.get(self.i..self.i + 8) == Some(b"        ") => self.i += 8,
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.i += 1,
                _ => return,
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Copies the value at the cursor, cut by `shape`.
    fn value(&mut self, shape: &'static Shape, top: bool) -> Option<()> {
        match (shape, self.peek()?) {
            (Ref(inner), _) => self.value(inner, top),
            (Fields(fields), b'{') => self.object(|p, key| {
                fields
                    .iter()
                    .find(|(name, _)| *name == key)
                    .and_then(|(_, shape)| {
                        if top && key == b"kind" {
                            p.note_kind()?;
                        }
                        Some(shape)
                    })
            }),
            (Labels, b'{') if self.pod && self.keep_labels.is_some() => {
                let keep = self.keep_labels.expect("checked");
                self.cut_labels = true;
                self.object(|_, key| {
                    let kept = keep.iter().any(|k| k.as_bytes() == key)
                        || MANAGED_BY_LABELS.iter().any(|k| k.as_bytes() == key);
                    kept.then_some(&Whole)
                })
            }
            (Annotations, b'{') => self.object(|_, key| {
                std::str::from_utf8(key)
                    .is_ok_and(annotation_read)
                    .then_some(&Whole)
            }),
            (Each(element), b'[') => self.array(element),
            _ => {
                let start = self.i;
                self.skip()?;
                self.out.extend_from_slice(&self.s[start..self.i]);
                Some(())
            }
        }
    }

    /// `"kind": "Pod"` at the top: the object's own labels can be cut. Another kind after
    /// labels were cut (a `PodList` item that is not a Pod) gives up.
    fn note_kind(&mut self) -> Option<()> {
        self.pod = self.s[self.i..].starts_with(b"\"Pod\"");
        (self.pod || !self.cut_labels).then_some(())
    }

    /// Copies an object, keeping the fields `keep` gives a shape for. A key written with
    /// escapes is kept whole (serde decodes it; bytes cannot be compared).
    fn object(
        &mut self,
        mut keep: impl FnMut(&mut Self, &[u8]) -> Option<&'static Shape>,
    ) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.out.push(b'{');
        let mut first = true;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
        } else {
            loop {
                if self.peek()? != b'"' {
                    return None;
                }
                let key_start = self.i;
                let key_end = skip_string(self.s, self.i)?;
                self.i = key_end;
                let key = &self.s[key_start + 1..key_end - 1];
                self.ws();
                if self.peek()? != b':' {
                    return None;
                }
                self.i += 1;
                self.ws();
                let shape = if key.contains(&b'\\') {
                    Some(&Whole)
                } else {
                    keep(self, key)
                };
                match shape {
                    Some(shape) => {
                        if !first {
                            self.out.push(b',');
                        }
                        first = false;
                        self.out.extend_from_slice(&self.s[key_start..key_end]);
                        self.out.push(b':');
                        self.value(shape, false)?;
                    }
                    None => self.skip()?,
                }
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                    }
                    b'}' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.out.push(b'}');
        self.depth -= 1;
        Some(())
    }

    fn array(&mut self, element: &'static Shape) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.out.push(b'[');
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
        } else {
            let mut first = true;
            loop {
                if !first {
                    self.out.push(b',');
                }
                first = false;
                self.value(element, false)?;
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                    }
                    b']' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.out.push(b']');
        self.depth -= 1;
        Some(())
    }

    /// Moves past the value at the cursor without looking into it: strings to their closing
    /// quote, objects and arrays to their closing bracket, scalars to the next delimiter.
    fn skip(&mut self) -> Option<()> {
        let b = self.peek()?;
        self.i = match b {
            b'"' => skip_string(self.s, self.i)?,
            b'{' => skip_nested(self.s, self.i, b'{', b'}')?,
            b'[' => skip_nested(self.s, self.i, b'[', b']')?,
            b',' | b'}' | b']' | b':' => return None,
            _ => {
                let len = self.s[self.i..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                    .unwrap_or(self.s.len() - self.i);
                self.i + len
            }
        };
        Some(())
    }
}

/// The offset just past the string starting at `quote`, or `None` if it does not end in `s`.
pub fn skip_string(s: &[u8], quote: usize) -> Option<usize> {
    let mut i = quote + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', s.get(i..)?)?;
        if s[i] == b'\\' {
            i += 2;
        } else {
            return Some(i + 1);
        }
    }
}
