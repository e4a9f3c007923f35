//! A small YAML writer. The generated policies carry comments that explain each rule and the
//! versions it needs, which no serde serializer can emit; the documents are simple enough
//! (maps, sequences, strings, numbers, literal blocks) that writing them directly is short.
//! Strings are quoted by pg-yaml's rule, the one fixes and the `-o yaml` report follow.

use pg_yaml::write::scalar;
use std::fmt::Write;

#[derive(Clone, Debug)]
pub enum Node {
    Str(String),
    Int(i64),
    Bool(bool),
    /// A literal block scalar (`|-`): CEL, Rego and JMESPath stay readable.
    Block(String),
    /// Strings in flow style (`["", "apps"]`): short lists read better on one line.
    Flow(Vec<String>),
    Seq(Seq),
    Map(Map),
}

/// A mapping in insertion order; each entry may carry a comment written above it.
#[derive(Clone, Debug, Default)]
pub struct Map(Vec<(Option<String>, String, Node)>);

/// A sequence; each item may carry a comment written above it.
#[derive(Clone, Debug, Default)]
pub struct Seq(Vec<(Option<String>, Node)>);

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn with(mut self, key: &str, value: impl Into<Node>) -> Map {
        self.0.push((None, key.to_string(), value.into()));
        self
    }

    /// `comment` may span several lines; each becomes a `# ` line.
    pub fn with_commented(mut self, comment: &str, key: &str, value: impl Into<Node>) -> Map {
        self.0
            .push((Some(comment.to_string()), key.to_string(), value.into()));
        self
    }
}

impl Seq {
    pub fn new() -> Seq {
        Seq::default()
    }

    pub fn with(mut self, value: impl Into<Node>) -> Seq {
        self.0.push((None, value.into()));
        self
    }

    pub fn with_commented(mut self, comment: &str, value: impl Into<Node>) -> Seq {
        self.0.push((Some(comment.to_string()), value.into()));
        self
    }
}

impl FromIterator<Node> for Seq {
    fn from_iter<I: IntoIterator<Item = Node>>(iter: I) -> Seq {
        Seq(iter.into_iter().map(|n| (None, n)).collect())
    }
}

impl From<&str> for Node {
    fn from(s: &str) -> Node {
        Node::Str(s.to_string())
    }
}

impl From<String> for Node {
    fn from(s: String) -> Node {
        Node::Str(s)
    }
}

impl From<i64> for Node {
    fn from(i: i64) -> Node {
        Node::Int(i)
    }
}

impl From<bool> for Node {
    fn from(b: bool) -> Node {
        Node::Bool(b)
    }
}

impl From<Map> for Node {
    fn from(m: Map) -> Node {
        Node::Map(m)
    }
}

impl From<Seq> for Node {
    fn from(s: Seq) -> Node {
        Node::Seq(s)
    }
}

pub fn block(text: impl Into<String>) -> Node {
    Node::Block(text.into())
}

pub fn flow<S: AsRef<str>>(items: &[S]) -> Node {
    Node::Flow(items.iter().map(|s| s.as_ref().to_string()).collect())
}

/// A sequence of plain strings, one per line.
pub fn strings<S: AsRef<str>>(items: &[S]) -> Node {
    Node::Seq(items.iter().map(|s| Node::from(s.as_ref())).collect())
}

/// One YAML document: `comment` lines on top, then the mapping.
pub fn document(comment: &str, body: &Map) -> String {
    let mut out = String::new();
    write_comment(&mut out, 0, comment);
    write_map(&mut out, 0, body);
    out
}

fn write_comment(out: &mut String, indent: usize, comment: &str) {
    for line in comment.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            let _ = writeln!(out, "{:indent$}#", "");
        } else {
            let _ = writeln!(out, "{:indent$}# {line}", "");
        }
    }
}

fn write_map(out: &mut String, indent: usize, map: &Map) {
    for (comment, key, value) in &map.0 {
        if let Some(c) = comment {
            write_comment(out, indent, c);
        }
        let _ = write!(out, "{:indent$}{}:", "", scalar(key));
        write_value(out, indent, value, indent);
    }
}

/// Writes what follows `key:` or `- `. Nested maps go two deeper than their key; sequences
/// under a key start at the key's column (the usual Kubernetes style).
fn write_value(out: &mut String, indent: usize, value: &Node, seq_indent: usize) {
    match value {
        Node::Map(m) if m.0.is_empty() => out.push_str(" {}\n"),
        Node::Seq(s) if s.0.is_empty() => out.push_str(" []\n"),
        Node::Map(m) => {
            out.push('\n');
            write_map(out, indent + 2, m);
        }
        Node::Seq(s) => {
            out.push('\n');
            write_seq(out, seq_indent, s);
        }
        Node::Block(text) => {
            out.push_str(" |-\n");
            for line in text.trim_end().lines() {
                let line = line.trim_end();
                if line.is_empty() {
                    out.push('\n');
                } else {
                    let _ = writeln!(out, "{:width$}{line}", "", width = indent + 2);
                }
            }
        }
        scalar_node => {
            let _ = writeln!(out, " {}", inline(scalar_node));
        }
    }
}

fn write_seq(out: &mut String, indent: usize, seq: &Seq) {
    for (comment, item) in &seq.0 {
        if let Some(c) = comment {
            write_comment(out, indent, c);
        }
        match item {
            Node::Map(m) if !m.0.is_empty() => {
                // Render the map two deeper, then put the dash on its first line.
                let mut body = String::new();
                write_map(&mut body, indent + 2, m);
                let _ = write!(out, "{:indent$}- ", "");
                out.push_str(&body[indent + 2..]);
            }
            other => {
                let _ = write!(out, "{:indent$}-", "");
                write_value(out, indent, other, indent + 2);
            }
        }
    }
}

fn inline(node: &Node) -> String {
    match node {
        Node::Str(s) => scalar(s).into_owned(),
        Node::Int(i) => i.to_string(),
        Node::Bool(b) => b.to_string(),
        Node::Flow(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|s| scalar(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Node::Map(_) | Node::Seq(_) | Node::Block(_) => unreachable!("not an inline value"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_kubernetes_style_yaml() {
        let doc = Map::new()
            .with("apiVersion", "v1")
            .with_commented("the rules", "rules", {
                Seq::new()
                    .with(
                        Map::new()
                            .with("name", "a")
                            .with("groups", flow(&["", "apps"])),
                    )
                    .with_commented("second", Map::new().with("expr", block("x ==\n  'y'")))
            })
            .with("empty", Map::new())
            .with("count", 3i64)
            .with("quoted", "true")
            .with("colon", "a: b")
            .with(
                "yaml11",
                flow(&["yes", "Off", "y", "012", "1:20", "system-node-critical"]),
            );
        assert_eq!(
            document("header\n\nmore", &doc),
            "# header\n#\n# more\napiVersion: v1\n# the rules\nrules:\n- name: a\n  groups: [\"\", apps]\n# second\n- expr: |-\n    x ==\n      'y'\nempty: {}\ncount: 3\nquoted: \"true\"\ncolon: \"a: b\"\nyaml11: [\"yes\", \"Off\", \"y\", \"012\", \"1:20\", system-node-critical]\n"
        );
    }
}
