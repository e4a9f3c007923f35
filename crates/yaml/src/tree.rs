//! A YAML document as an arena of nodes that remember where they were written.
//!
//! We build our own tree from the parser's events (instead of a serde value) for three reasons:
//! every object needs its file:line:column, aliases must cost nothing and be bounded (a
//! "billion laughs" document shares nodes instead of copying them, and its expanded size is
//! counted and refused past a limit), and the items of a `kind: List` are handed out one at a
//! time and dropped, so a huge list never sits in memory whole.

use saphyr_parser::{Event, Parser, ScalarStyle, Span, StrInput};
use std::collections::HashMap;

pub type NodeId = usize;

/// Past this many nested collections a document is refused rather than walked.
pub const MAX_DEPTH: usize = 512;
/// Past this many nodes after alias expansion a document is refused (a billion-laughs bomb).
pub const MAX_EXPANDED_NODES: u64 = 1_000_000;

/// A position as the parser reports it: `index` counts characters, `line` is 1-based and
/// `col` is a 0-based character column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub index: usize,
    pub line: usize,
    pub col: usize,
}

impl Pos {
    fn start_of(span: &Span) -> Self {
        Pos {
            index: span.start.index(),
            line: span.start.line(),
            col: span.start.col(),
        }
    }

    fn end_of(span: &Span) -> Self {
        Pos {
            index: span.end.index(),
            line: span.end.line(),
            col: span.end.col(),
        }
    }
}

#[derive(Debug)]
pub enum NodeKind {
    Scalar { value: String, style: ScalarStyle },
    Seq(Vec<NodeId>),
    Map(Vec<(NodeId, NodeId)>),
}

#[derive(Debug)]
pub struct Node {
    pub kind: NodeKind,
    pub start: Pos,
    pub end: Pos,
    /// Number of nodes this one stands for once aliases are expanded.
    expanded: u64,
}

#[derive(Debug, Default)]
pub struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The value under `key` when `id` is a mapping.
    pub fn get(&self, id: NodeId, key: &str) -> Option<NodeId> {
        self.get_entry(id, key).map(|(_, v)| v)
    }

    /// The key and value nodes under `key` when `id` is a mapping.
    pub fn get_entry(&self, id: NodeId, key: &str) -> Option<(NodeId, NodeId)> {
        match &self.nodes[id].kind {
            NodeKind::Map(entries) => entries
                .iter()
                .copied()
                .find(|&(k, _)| self.scalar(k) == Some(key)),
            _ => None,
        }
    }

    /// Follows a path of mapping keys.
    pub fn path(&self, mut id: NodeId, keys: &[&str]) -> Option<NodeId> {
        for key in keys {
            id = self.get(id, key)?;
        }
        Some(id)
    }

    pub fn scalar(&self, id: NodeId) -> Option<&str> {
        match &self.nodes[id].kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// Why a YAML stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// `line:col: message`, for a caller to put its file name in front of.
impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for YamlError {}

/// A finished top-level value: a whole document, or one item of a root `items:` list.
pub struct Unit<'t> {
    pub tree: &'t Tree,
    pub root: NodeId,
    /// 0-based index of the document in the stream.
    pub document: usize,
    /// An item of the document's root `items:` list (a `kind: List`), not a document root.
    pub in_list: bool,
}

struct Frame {
    start: Pos,
    anchor: usize,
    /// Where this frame's children begin in the parse's shared children stack: one buffer
    /// for every open collection instead of a growing vector each.
    first_child: usize,
    is_map: bool,
    /// A root-level `items:` sequence: its items are emitted one by one and dropped.
    streams_items: bool,
    /// Arena length when this frame began; emitted items are truncated back to it.
    mark: usize,
}

/// Parses every document of `text`, calling `emit` for each document root and, in a List
/// document, for each item of its root `items` sequence (before the document root, which
/// then no longer contains them). Stops at the first error.
pub fn parse_stream(text: &str, emit: impl FnMut(Unit<'_>)) -> Result<(), YamlError> {
    parse(text, true, emit)
}

/// Parses every document of `text` whole, calling `emit` for each document root: for inputs
/// whose root `items` key is data, not a `kind: List`.
pub fn parse_documents(text: &str, emit: impl FnMut(Unit<'_>)) -> Result<(), YamlError> {
    parse(text, false, emit)
}

fn parse(text: &str, stream_lists: bool, mut emit: impl FnMut(Unit<'_>)) -> Result<(), YamlError> {
    let mut parser = Parser::new(StrInput::new(text));
    let mut tree = Tree::default();
    let mut anchors: HashMap<usize, NodeId> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut children: Vec<NodeId> = Vec::new();
    let mut document = 0usize;
    let mut root: Option<NodeId> = None;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| YamlError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        let completed = match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing => None,
            Event::DocumentStart(_) => {
                tree.nodes.clear();
                anchors.clear();
                root = None;
                None
            }
            Event::DocumentEnd => {
                // A document of nothing but comments is an empty scalar: not worth a unit.
                let empty = |id: NodeId| matches!(&tree.nodes[id].kind, NodeKind::Scalar { value, style: ScalarStyle::Plain } if value.is_empty());
                if let Some(id) = root.take().filter(|&id| !empty(id)) {
                    emit(Unit {
                        tree: &tree,
                        root: id,
                        document,
                        in_list: false,
                    });
                }
                document += 1;
                None
            }
            Event::Scalar(value, style, anchor, _) => {
                let id = push(
                    &mut tree,
                    Node {
                        kind: NodeKind::Scalar {
                            value: value.into_owned(),
                            style,
                        },
                        start: Pos::start_of(&span),
                        end: Pos::end_of(&span),
                        expanded: 1,
                    },
                );
                remember(&mut anchors, anchor, id);
                Some(id)
            }
            Event::Alias(anchor) => match anchors.get(&anchor) {
                Some(&id) => Some(id),
                None => {
                    return Err(YamlError {
                        line: span.start.line(),
                        col: span.start.col() + 1,
                        message: "alias refers to an unknown anchor".into(),
                    });
                }
            },
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError {
                        line: span.start.line(),
                        col: span.start.col() + 1,
                        message: format!("document is nested deeper than {MAX_DEPTH} levels"),
                    });
                }
                let is_map = matches!(event, Event::MappingStart(..));
                let streams_items = stream_lists
                    && !is_map
                    && stack.len() == 1
                    && stack[0].is_map
                    && (children.len() - stack[0].first_child) % 2 == 1
                    && children
                        .last()
                        .is_some_and(|&k| tree.scalar(k) == Some("items"));
                stack.push(Frame {
                    start: Pos::start_of(&span),
                    anchor,
                    first_child: children.len(),
                    is_map,
                    streams_items,
                    mark: tree.nodes.len(),
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop().expect("parser balances collections");
                let own = &children[frame.first_child..];
                let end = own
                    .last()
                    .map(|&c| tree.nodes[c].end)
                    .unwrap_or_else(|| Pos::end_of(&span));
                let expanded = own
                    .iter()
                    .fold(1u64, |acc, &c| acc.saturating_add(tree.nodes[c].expanded));
                if expanded > MAX_EXPANDED_NODES {
                    return Err(YamlError {
                        line: frame.start.line,
                        col: frame.start.col + 1,
                        message: format!(
                            "aliases expand this document past {MAX_EXPANDED_NODES} nodes (a \"billion laughs\" alias bomb?)"
                        ),
                    });
                }
                let kind = if frame.is_map {
                    NodeKind::Map(own.chunks_exact(2).map(|p| (p[0], p[1])).collect())
                } else {
                    NodeKind::Seq(own.to_vec())
                };
                children.truncate(frame.first_child);
                let id = push(
                    &mut tree,
                    Node {
                        kind,
                        start: frame.start,
                        end,
                        expanded,
                    },
                );
                remember(&mut anchors, frame.anchor, id);
                Some(id)
            }
        };
        let Some(id) = completed else { continue };
        match stack.last_mut() {
            None => root = Some(id),
            Some(frame) if frame.streams_items => {
                emit(Unit {
                    tree: &tree,
                    root: id,
                    document,
                    in_list: true,
                });
                let mark = frame.mark;
                tree.nodes.truncate(mark);
                anchors.retain(|_, &mut n| n < mark);
            }
            Some(_) => children.push(id),
        }
    }
    Ok(())
}

fn push(tree: &mut Tree, node: Node) -> NodeId {
    tree.nodes.push(node);
    tree.nodes.len() - 1
}

fn remember(anchors: &mut HashMap<usize, NodeId>, anchor: usize, id: NodeId) {
    if anchor > 0 {
        anchors.insert(anchor, id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(text: &str) -> Result<Vec<(usize, usize)>, YamlError> {
        let mut out = Vec::new();
        parse_stream(text, |u| {
            out.push((u.document, u.tree.node(u.root).start.line));
        })?;
        Ok(out)
    }

    #[test]
    fn multi_document_roots_have_lines() {
        let got = roots("a: 1\n---\nb: 2\n---\n# only a comment\n").unwrap();
        assert_eq!(got, vec![(0, 1), (1, 3)]);
    }

    #[test]
    fn list_items_are_emitted_one_by_one() {
        let text = "apiVersion: v1\nitems:\n- kind: Pod\n  metadata: {name: a}\n- kind: Pod\n  metadata: {name: b}\nkind: List\n";
        let mut names = Vec::new();
        parse_stream(text, |u| {
            let name = u.tree.path(u.root, &["metadata", "name"]);
            names.push(name.and_then(|n| u.tree.scalar(n)).map(str::to_owned));
        })
        .unwrap();
        assert_eq!(
            names,
            vec![Some("a".to_string()), Some("b".to_string()), None]
        );
    }

    #[test]
    fn scalars_before_and_after_streamed_items_keep_their_text() {
        let text = "apiVersion: v1\nitems:\n- kind: Pod\n  metadata: {name: first}\n- {kind: Pod, metadata: {name: second}}\nkind: List\nmetadata: {resourceVersion: \"42\"}\n";
        let mut seen = Vec::new();
        parse_stream(text, |u| {
            let at = |keys: &[&str]| u.tree.path(u.root, keys).and_then(|n| u.tree.scalar(n));
            seen.push(format!(
                "{:?} {:?} {:?} {:?}",
                at(&["apiVersion"]),
                at(&["kind"]),
                at(&["metadata", "name"]),
                at(&["metadata", "resourceVersion"])
            ));
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                "None Some(\"Pod\") Some(\"first\") None",
                "None Some(\"Pod\") Some(\"second\") None",
                "Some(\"v1\") Some(\"List\") None Some(\"42\")",
            ]
        );
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut doc = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let mut prev = 'a';
        for name in "bcdefghi".chars() {
            doc.push_str(&format!(
                "{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = name;
        }
        let err = roots(&doc).unwrap_err();
        assert!(err.message.contains("billion laughs"), "{err:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let doc = "a:\n".to_string() + &"[".repeat(200);
        assert!(roots(&doc).is_err());
        let mut block = String::new();
        for depth in 0..(MAX_DEPTH + 10) {
            block.push_str(&" ".repeat(depth));
            block.push_str("k:\n");
        }
        let err = roots(&block).unwrap_err();
        assert!(err.message.contains("nested deeper"), "{err:?}");
    }
}
