//! Re-reads a file for fixing: the objects (as the audit sees them, to re-audit a result) and,
//! for each workload, where its pod spec's keys and values are written.
//!
//! The audit's objects only keep a few positions; a fix needs every key of the pod spec (to
//! place a new one among them) and the exact span of values (to replace or delete them), so
//! the file is parsed again here with the same parser and template rewrite as the audit uses.

use crate::text::Text;
use pg_model::{Location, Object, ObjectRef, SpecPositions, WorkloadKind};
use pg_sources::raw::{RawObject, Scalar, pod_spec_path};
use pg_yaml::{NodeDe, NodeId, NodeKind, Pos, ScalarStyle, Tree};
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// A workload document (or `kind: List` item) in the file.
#[derive(Clone, Debug)]
pub struct Site {
    pub object: ObjectRef,
    pub kind: WorkloadKind,
    pub api_version: Option<String>,
    pub start: Pos,
    pub spec: Option<Spec>,
}

/// The pod spec mapping of a workload.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The mapping's first character: its first key, or `{` in flow style (or an anchor).
    pub start: Pos,
    /// `{...}`, as in JSON files and flow-style YAML.
    pub flow: bool,
    /// The line of the `spec:` key that holds the mapping.
    pub parent_line: usize,
    /// Keys are written `"like": "this"` (JSON).
    pub quoted_keys: bool,
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    pub key_start: Pos,
    pub key_end: Pos,
    pub value_start: Pos,
    pub value_end: Pos,
    /// The scalar's style, or `None` for a collection.
    pub value_style: Option<ScalarStyle>,
    /// The scalar's value as parsed (a template expression reads as its placeholder).
    pub value: Option<String>,
}

impl Entry {
    /// A scalar written on the key's own line: `dnsPolicy: ClusterFirst`. An empty value is
    /// not one (`tolerations:` followed by an expression line stands for a collection).
    pub fn is_one_line_scalar(&self) -> bool {
        self.value.as_deref().is_some_and(|v| !v.is_empty())
            && self.value_end.line == self.key_start.line
    }
}

impl Spec {
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// Everything read from one file.
#[derive(Debug, Default)]
pub struct Parsed {
    pub objects: Vec<Object>,
    pub sites: Vec<Site>,
}

/// Why a file could not be read for fixing (the YAML parser's line and column, 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Parses `text` (named `name` in locations; `path` finds a template's chart or role defaults).
pub fn parse(text: &Text, name: &Arc<str>, path: Option<&Path>) -> Result<Parsed, ParseError> {
    let mut parsed = Parsed::default();
    let original = text.expressions().map(|x| x as &dyn pg_yaml::OriginalText);
    pg_yaml::parse_stream(text.parsed(), |unit| {
        let de = NodeDe {
            tree: unit.tree,
            id: unit.root,
            original,
        };
        // Documents that are not Kubernetes objects are the audit's business, not ours.
        let Ok(raw) = RawObject::deserialize(de) else {
            return;
        };
        let api_version = raw.api_version.as_ref().and_then(Scalar::as_text);
        let Some(mut object) = raw.into_object(None) else {
            return;
        };
        let tree = unit.tree;
        let start = tree.node(unit.root).start;
        let at = |p: Pos| Location {
            file: name.clone(),
            line: p.line as u32,
            column: p.col as u32 + 1,
        };
        match &mut object {
            Object::Workload(w) => {
                w.location = Some(at(start));
                let spec = spec_of(tree, unit.root, w.kind, text);
                if let Some(s) = &spec {
                    let key = |k: &str| s.entry(k).map(|e| at(e.key_start));
                    std::sync::Arc::make_mut(&mut w.pod).positions =
                        Some(Box::new(SpecPositions {
                            spec: at(s.start),
                            class: key("priorityClassName"),
                            priority: key("priority"),
                        }));
                }
                if let Some(facts) = text.helm() {
                    facts.resolve(w);
                }
                if let Some(p) = path {
                    pg_sources::resolve_templated(w, p, None);
                }
                parsed.sites.push(Site {
                    object: w.object_ref(),
                    kind: w.kind,
                    api_version,
                    start,
                    spec,
                });
            }
            Object::PriorityClass(c) => c.location = Some(at(start)),
            Object::ResourceQuota(q) => q.location = Some(at(start)),
            Object::QuotaConfig(c) => c.location = Some(at(start)),
            Object::Service(s) => s.location = Some(at(start)),
            Object::WebhookConfig(w) => w.location = Some(at(start)),
        }
        parsed.objects.push(object);
    })
    .map_err(|e| ParseError {
        line: e.line,
        col: e.col,
        message: e.message,
    })?;
    Ok(parsed)
}

fn spec_of(tree: &Tree, root: NodeId, kind: WorkloadKind, text: &Text) -> Option<Spec> {
    let path = pod_spec_path(kind);
    let (last, parents) = path.split_last()?;
    let parent = tree.path(root, parents)?;
    let (key, spec) = tree.get_entry(parent, last)?;
    let NodeKind::Map(pairs) = &tree.node(spec).kind else {
        return None;
    };
    let start = tree.node(spec).start;
    let entries = pairs
        .iter()
        .filter_map(|&(k, v)| {
            let (key_node, value_node) = (tree.node(k), tree.node(v));
            let NodeKind::Scalar { value: key, .. } = &key_node.kind else {
                return None;
            };
            let (value_style, value) = match &value_node.kind {
                NodeKind::Scalar { value, style } => (Some(*style), Some(value.clone())),
                _ => (None, None),
            };
            Some(Entry {
                key: key.clone(),
                key_start: key_node.start,
                key_end: end_of(text, tree, k),
                value_start: value_node.start,
                value_end: end_of(text, tree, v),
                value_style,
                value,
            })
        })
        .collect();
    Some(Spec {
        start,
        flow: text.body().as_bytes().get(text.offset(start)) == Some(&b'{'),
        parent_line: tree.node(key).start.line,
        quoted_keys: matches!(
            tree.node(key).kind,
            NodeKind::Scalar {
                style: ScalarStyle::DoubleQuoted,
                ..
            }
        ),
        entries,
    })
}

/// Where a node ends. The parser's end of a quoted scalar in block context runs on over
/// trailing spaces and a comment (`"x"  # why`), so quoted scalars are measured here.
pub(crate) fn end_of(text: &Text, tree: &Tree, id: NodeId) -> Pos {
    let node = tree.node(id);
    let quote = match &node.kind {
        NodeKind::Scalar {
            style: ScalarStyle::SingleQuoted,
            ..
        } => b'\'',
        NodeKind::Scalar {
            style: ScalarStyle::DoubleQuoted,
            ..
        } => b'"',
        _ => return node.end,
    };
    let start = text.offset(node.start);
    let bytes = &text.parsed().as_bytes()[start..];
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return text.pos_at(start + i + 1),
            _ => i += 1,
        }
    }
    node.end
}
