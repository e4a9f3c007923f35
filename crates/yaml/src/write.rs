//! Writing YAML: one rule for when a string needs quotes, shared by every writer (fixes in
//! manifests, generated policies, the `-o yaml` report), and a block-style writer for a whole
//! document.
//!
//! Kubernetes reads YAML through sigs.k8s.io/yaml, which resolves plain scalars as YAML 1.1
//! does: `yes`, `No`, `ON`, `y`, `~`, `012` (octal), `0x1F`, `1:20` (base 60), `1e3` and
//! `2001-12-14` are not strings there. Other tools read YAML 1.2, where most of those are
//! strings. A string is written plain only when both read it back as that same string.

use crate::tree::{NodeId, NodeKind, Tree, YamlError, parse_documents};
use saphyr_parser::ScalarStyle;
use std::borrow::Cow;
use std::fmt::Write;

/// `s` as a plain scalar when YAML 1.1 and 1.2 readers both read it back as this string, else
/// double-quoted. Safe as a mapping key, a block value, or an item of a flow sequence
/// (`[a, b]`): flow indicators are always quoted.
pub fn scalar(s: &str) -> Cow<'_, str> {
    if is_plain_safe(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(double_quoted(s))
    }
}

/// A double-quoted scalar using only the escapes JSON also has, so the result is a JSON
/// string as well.
pub fn double_quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            c if !printable(c) => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// A single-quoted scalar (the only escape is a doubled quote), for replacing a value written
/// in that style. Only for one-line text of printable characters, such as a class name.
pub fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn printable(c: char) -> bool {
    !c.is_control()
        && !matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// Words YAML 1.1 reads as booleans or null, in any case form (quoting `yEs`, a string to
/// both, costs nothing), and the float words some lenient readers (ours among them) accept
/// without YAML's leading dot.
const NOT_STRINGS: [&str; 12] = [
    "y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf", "infinity",
];

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    // Indicators (`-`, `?`, `:`, `!`, `&`, `*`, `#`, `|`, `>`, `'`, `"`, `%`, `@`, `` ` ``,
    // flow brackets), `~`, and the signs and dots that start numbers, `.inf` and `.nan`.
    if !(first.is_alphanumeric() || first == '/' || first == '_') {
        return false;
    }
    if s.ends_with([' ', ':'])
        || s.contains(": ")
        || s.contains(" #")
        || s.contains([',', '[', ']', '{', '}'])
        || !s.chars().all(printable)
    {
        return false;
    }
    if NOT_STRINGS.contains(&s.to_ascii_lowercase().as_str()) {
        return false;
    }
    // Integers in any base, floats, base-60 numbers (`1:20`) and timestamps all start with a
    // digit and use only these characters; anything else starting with one (`50Mi`, `4Gi`)
    // is a string to every reader.
    !(first.is_ascii_digit()
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || "xXoO_.:+- tTzZ".contains(c)))
}

/// Rewrites one JSON document (or any one YAML document) in block style, keys in the order
/// written, strings quoted by [`scalar`]: the `-o yaml` report is its JSON document this way.
pub fn block_yaml(json: &str) -> Result<String, YamlError> {
    let mut out = String::new();
    let mut written = false;
    parse_documents(json, |unit| {
        if !written {
            written = true;
            write_root(&mut out, unit.tree, unit.root);
        }
    })?;
    Ok(out)
}

fn write_root(out: &mut String, tree: &Tree, id: NodeId) {
    if is_nested(tree, id) {
        write_collection(out, tree, id, 0);
    } else {
        out.push_str(&inline(tree, id));
        out.push('\n');
    }
}

/// A map or sequence with entries, which takes lines of its own.
fn is_nested(tree: &Tree, id: NodeId) -> bool {
    match &tree.node(id).kind {
        NodeKind::Map(entries) => !entries.is_empty(),
        NodeKind::Seq(items) => !items.is_empty(),
        NodeKind::Scalar { .. } => false,
    }
}

/// A scalar, `{}` or `[]`.
fn inline(tree: &Tree, id: NodeId) -> Cow<'_, str> {
    match &tree.node(id).kind {
        NodeKind::Map(_) => Cow::Borrowed("{}"),
        NodeKind::Seq(_) => Cow::Borrowed("[]"),
        // Numbers, booleans and null keep their meaning by staying as they were written.
        NodeKind::Scalar {
            value,
            style: ScalarStyle::Plain,
        } => Cow::Borrowed(value),
        NodeKind::Scalar { value, .. } => scalar(value),
    }
}

/// Writes a non-empty collection whose lines start at column `indent`. Nested maps go two
/// deeper than their key; sequences under a key start at the key's column (the usual
/// Kubernetes style).
fn write_collection(out: &mut String, tree: &Tree, id: NodeId, indent: usize) {
    match &tree.node(id).kind {
        NodeKind::Map(entries) => {
            for &(key, value) in entries {
                let key = match tree.scalar(key) {
                    Some(text) => scalar(text),
                    None => inline(tree, key),
                };
                let _ = write!(out, "{:indent$}{key}:", "");
                if is_nested(tree, value) {
                    out.push('\n');
                    let nested = match tree.node(value).kind {
                        NodeKind::Map(_) => indent + 2,
                        _ => indent,
                    };
                    write_collection(out, tree, value, nested);
                } else {
                    let _ = writeln!(out, " {}", inline(tree, value));
                }
            }
        }
        NodeKind::Seq(items) => {
            for &item in items {
                if is_nested(tree, item) {
                    // Written two deeper, then the dash takes the place of the first indent.
                    let mut body = String::new();
                    write_collection(&mut body, tree, item, indent + 2);
                    let _ = write!(out, "{:indent$}- ", "");
                    out.push_str(&body[indent + 2..]);
                } else {
                    let _ = writeln!(out, "{:indent$}- {}", "", inline(tree, item));
                }
            }
        }
        NodeKind::Scalar { .. } => unreachable!("only collections are nested"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_collections_in_kubernetes_style() {
        let json = r#"{"a":{"b":[1,{"c":"x","d":[]}],"e":{}},"f":[["g","h"]],"i":null,"j":true}"#;
        assert_eq!(
            block_yaml(json).unwrap(),
            "a:\n  b:\n  - 1\n  - c: x\n    d: []\n  e: {}\nf:\n- - g\n  - h\ni: null\nj: true\n"
        );
    }

    #[test]
    fn quoted_forms() {
        assert_eq!(single_quoted("it's"), "'it''s'");
        assert_eq!(double_quoted("a\"b\\\n\u{7}"), r#""a\"b\\\n\u0007""#);
    }

    #[test]
    fn keys_keep_their_order() {
        assert_eq!(block_yaml(r#"{"z":1,"a":2}"#).unwrap(), "z: 1\na: 2\n");
    }

    #[test]
    fn root_scalars_and_empty_input() {
        assert_eq!(block_yaml(r#""yes""#).unwrap(), "\"yes\"\n");
        assert_eq!(block_yaml("[]").unwrap(), "[]\n");
        assert_eq!(block_yaml("").unwrap(), "");
    }
}
