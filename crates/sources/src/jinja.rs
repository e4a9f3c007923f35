//! Jinja2 as Ansible roles write it (`*.yml.j2`), read without rendering.
//!
//! One rule everywhere: the first branch stands for the object. `{% if %}` keeps the text up to
//! its first `{% elif %}`/`{% else %}`; the other branches are blanked, whether they span lines
//! or sit inside one (`command: [{% if x %}"a"{% else %}"b"{% endif %}]`). A `{% for %}` body
//! stands once (its `{% else %}` goes). What only defines things (`{% macro %}`, `{% call %}`,
//! block `{% set %}`) is blanked with its body; `{% raw %}` content stays as written; other
//! statements (`{% include %}`, `{% set x = ... %}`, `{%- ... -%}`) and `{# comments #}` are
//! blanked. Expressions are handed to [`crate::template`] to become placeholders.

use crate::template::blank;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, PartialEq, Eq)]
enum TagKind {
    Expression,
    Statement,
    Comment,
}

struct Tag {
    range: Range<usize>,
    kind: TagKind,
}

/// An open block statement.
enum Frame {
    /// `if` or `for`; `dropped_from` is where its first `elif`/`else` starts.
    Branching {
        end: &'static str,
        dropped_from: Option<usize>,
    },
    /// `macro`, `call`, block `set`: nothing of it is output where it is written.
    Definition { end: &'static str, from: usize },
    /// `filter`, `with`, `block`, `autoescape`: the body is output as it is.
    Plain { end: &'static str },
}

impl Frame {
    fn end(&self) -> &'static str {
        match self {
            Frame::Branching { end, .. } | Frame::Definition { end, .. } | Frame::Plain { end } => {
                end
            }
        }
    }
}

/// The first word of a statement tag: `{%- if x -%}` -> `if`.
fn keyword<'s>(source: &'s str, tag: &Range<usize>) -> &'s str {
    statement_inner(source, tag)
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("")
}

fn statement_inner<'s>(source: &'s str, tag: &Range<usize>) -> &'s str {
    source[tag.start + 2..tag.end - 2]
        .trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace())
}

/// The next tag at or after `from`, if any.
fn next_tag(bytes: &[u8], mut from: usize) -> Option<Tag> {
    while let Some(found) = memchr::memchr(b'{', &bytes[from..]) {
        let open = from + found;
        let (close, kind): (&[u8], TagKind) = match bytes.get(open + 1)? {
            b'{' => (b"}}", TagKind::Expression),
            b'%' => (b"%}", TagKind::Statement),
            b'#' => (b"#}", TagKind::Comment),
            _ => {
                from = open + 1;
                continue;
            }
        };
        let rel = memchr::memmem::find(&bytes[open + 2..], close)?;
        return Some(Tag {
            range: open..open + 2 + rel + 2,
            kind,
        });
    }
    None
}

/// Blanks statements, comments and the branches that do not stand; returns where the
/// expressions that stand are (sorted).
pub(crate) fn set_aside_statements(source: &str, bytes: &mut [u8]) -> Vec<Range<usize>> {
    let mut expressions = Vec::new();
    let mut statements = Vec::new();
    let mut dropped: Vec<Range<usize>> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while let Some(tag) = next_tag(bytes, i) {
        i = tag.range.end;
        match tag.kind {
            TagKind::Expression => {
                expressions.push(tag.range);
                continue;
            }
            TagKind::Comment => {
                statements.push(tag.range);
                continue;
            }
            TagKind::Statement => {}
        }
        let word = keyword(source, &tag.range);
        match word {
            "raw" => {
                // Everything up to `{% endraw %}` is literal text, tags included.
                let mut j = tag.range.end;
                statements.push(tag.range);
                while let Some(t) = next_tag(bytes, j) {
                    if t.kind == TagKind::Statement && keyword(source, &t.range) == "endraw" {
                        i = t.range.end;
                        statements.push(t.range);
                        break;
                    }
                    // A tag inside the raw text may swallow an `endraw`: step past `{` only.
                    j = t.range.start + 1;
                }
                continue;
            }
            "if" => stack.push(Frame::Branching {
                end: "endif",
                dropped_from: None,
            }),
            "for" => stack.push(Frame::Branching {
                end: "endfor",
                dropped_from: None,
            }),
            "elif" | "else" => {
                if let Some(Frame::Branching { dropped_from, .. }) = stack.last_mut() {
                    dropped_from.get_or_insert(tag.range.start);
                }
            }
            "macro" => stack.push(Frame::Definition {
                end: "endmacro",
                from: tag.range.start,
            }),
            "call" => stack.push(Frame::Definition {
                end: "endcall",
                from: tag.range.start,
            }),
            "set" if !statement_inner(source, &tag.range).contains('=') => {
                stack.push(Frame::Definition {
                    end: "endset",
                    from: tag.range.start,
                })
            }
            "filter" => stack.push(Frame::Plain { end: "endfilter" }),
            "with" => stack.push(Frame::Plain { end: "endwith" }),
            "block" => stack.push(Frame::Plain { end: "endblock" }),
            "autoescape" => stack.push(Frame::Plain {
                end: "endautoescape",
            }),
            end if end.starts_with("end") => {
                // Close up to the matching frame; an unmatched end closes nothing.
                if let Some(at) = stack.iter().rposition(|f| f.end() == end) {
                    for frame in stack.drain(at..).rev() {
                        match frame {
                            Frame::Branching {
                                dropped_from: Some(from),
                                ..
                            }
                            | Frame::Definition { from, .. } => dropped.push(from..tag.range.end),
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
        statements.push(tag.range);
    }
    for r in statements.iter().chain(&dropped) {
        blank(&mut bytes[r.clone()]);
    }
    dropped.sort_by_key(|r| r.start);
    expressions.retain(|x| !dropped.iter().any(|d| d.start <= x.start && x.end <= d.end));
    expressions
}

/// Lines of a block scalar (`key: |`) that preprocessing turned into spaces can break it: a
/// leading all-space line longer than the scalar's indentation is a YAML error. Such lines are
/// filled from that indentation on, so that they read as a line of the scalar.
pub(crate) fn settle_block_scalars(original: &str, text: String) -> String {
    let mut text = text.into_bytes();
    settle(original, &mut text);
    String::from_utf8(text).expect("only spaces were replaced, by ASCII")
}

fn settle(original: &str, text: &mut [u8]) {
    let mut starts = vec![0];
    starts.extend(memchr::memchr_iter(b'\n', text).map(|i| i + 1));
    let len = text.len();
    let line = |k: usize| {
        let end = starts.get(k + 1).map_or(len, |&s| s - 1).max(starts[k]);
        starts[k]..end
    };
    let n = starts.len();
    let mut k = 0;
    while k < n {
        let header = line(k);
        k += 1;
        let Some(parent) = block_scalar_header(&text[header.clone()]) else {
            continue;
        };
        // Blanked lines before the first line of content.
        let mut pending = Vec::new();
        let mut indent = None;
        while k < n {
            let l = line(k);
            let bytes = &text[l.clone()];
            let spaces = bytes.iter().take_while(|b| **b == b' ').count();
            if spaces == bytes.len() {
                if original.as_bytes()[l.clone()].iter().any(|b| *b != b' ') {
                    pending.push(l);
                }
                k += 1;
                continue;
            }
            if spaces > parent {
                indent = Some(spaces);
            }
            break;
        }
        let fill_from = indent.unwrap_or(parent + 1);
        for l in pending {
            if l.len() > fill_from {
                for b in &mut text[l.start + fill_from..l.end] {
                    *b = b'x';
                }
            }
        }
        // Skip the rest of the scalar: lines indented at least as much as its content.
        if let Some(indent) = indent {
            while k < n {
                let bytes = &text[line(k)];
                let spaces = bytes.iter().take_while(|b| **b == b' ').count();
                if spaces < indent && spaces < bytes.len() {
                    break;
                }
                k += 1;
            }
        }
    }
}

/// For a line that opens a block scalar (`key: |`, `- >-`, `key: |2`), the column its
/// content must be indented beyond.
fn block_scalar_header(line: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(line).ok()?;
    let body = match text.find(" #") {
        Some(c) => &text[..c],
        None => text,
    }
    .trim_end();
    let indicator = body.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
    let before = indicator
        .strip_suffix('|')
        .or_else(|| indicator.strip_suffix('>'))?;
    if !(before.ends_with(": ") || before.ends_with("- ") || before.trim().is_empty()) {
        return None;
    }
    let indent = text.len() - text.trim_start_matches(' ').len();
    let dashes = text.as_bytes()[indent..]
        .chunks(2)
        .take_while(|c| c == b"- ")
        .count();
    Some(indent + 2 * dashes)
}

/// `roles/<role>/defaults/main.yml` (or `defaults/main/*.yml`) for a file under
/// `roles/<role>/templates/`.
pub(crate) fn role_defaults(file: &Path) -> Vec<PathBuf> {
    let Some(role) = file
        .ancestors()
        .find(|d| d.file_name().is_some_and(|n| n == "templates"))
        .and_then(Path::parent)
    else {
        return Vec::new();
    };
    let defaults = role.join("defaults");
    let mut files: Vec<PathBuf> = ["main.yml", "main.yaml"]
        .iter()
        .map(|n| defaults.join(n))
        .filter(|p| p.is_file())
        .collect();
    if let Ok(dir) = std::fs::read_dir(defaults.join("main")) {
        let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    files
}

#[cfg(test)]
mod tests {
    use crate::template::{Dialect, preprocess};

    fn parsed(src: &str) -> String {
        let (text, _) = preprocess(src, Dialect::Jinja);
        assert_eq!(text.len(), src.len());
        text
    }

    #[test]
    fn inline_if_keeps_its_first_branch() {
        let src = "command: [{% if x %}\"a\"{% elif y %}\"b\"{% else %}\"{{ c }}\"{% endif %}]\n";
        let text = parsed(src);
        assert_eq!(text.trim_end().replace(' ', ""), "command:[\"a\"]");
    }

    #[test]
    fn block_if_keeps_its_first_branch_and_nested_tags_go_with_the_rest() {
        let src = "a:\n{% if x %}\n  b: 1\n{% else %}\n  b: {{ y }}\n{% if z %}\n  c: 2\n{% endif %}\n{% endif %}\n  d: 3\n";
        let text = parsed(src);
        assert_eq!(text.lines().count(), src.lines().count());
        let kept: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(kept, ["a:", "b: 1", "d: 3"]);
    }

    #[test]
    fn comments_raw_macros_and_block_sets() {
        let src = "{# note\n spans #}\n{% macro m(x) %}\nkey: {{ x }}\n{% endmacro %}\n{% set s %}\nq: 1\n{% endset %}\n{%- set v = 1 -%}\n{% include 'x.j2' %}\nv: {% raw %}'{{ .Go }}'{% endraw %}\n";
        let text = parsed(src);
        let kept: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let kept: Vec<String> = kept
            .iter()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(kept, ["v:'{{.Go}}'"]);
    }

    #[test]
    fn for_loops_stand_once() {
        let src = "args: [{% for a in l %}\"{{ a }}\"{% if not loop.last %},{% endif %}{% endfor %}]\n{% for d in docs %}\n---\nkind: {{ d }}\n{% else %}\n---\nkind: none\n{% endfor %}\n";
        let text = parsed(src);
        let compact: String = text.split_whitespace().collect();
        assert_eq!(compact, "args:[\"xxxxxxx\",]---kind:xxxxxxx");
    }

    #[test]
    fn statements_inside_block_scalars_keep_the_scalar_valid() {
        let src = "data:\n  Corefile: |\n{% if zones is defined and zones | length > 0 %}\n    .:53 {\n{% if x %}\n        {{ extra | indent(8) }}\n{% endif %}\n    }\n  other: 1\n";
        let text = parsed(src);
        let mut n = 0;
        pg_yaml::parse_stream(&text, |unit| {
            n += 1;
            let other = unit.tree.path(unit.root, &["data", "other"]);
            assert_eq!(other.and_then(|o| unit.tree.scalar(o)), Some("1"));
        })
        .expect("parses");
        assert_eq!(n, 1);
    }
}
