//! Finds the actions (`{{ ... }}`) of a Go template and says what each one does.

use std::ops::Range;

/// One `{{ ... }}` and what it does.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// The bytes of the whole tag, braces included.
    pub range: Range<usize>,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    If(String),
    ElseIf(String),
    ElseWith(String),
    Else,
    End,
    With(String),
    Range(String),
    /// `define` and `block` bodies are named templates; `block` also prints its body.
    Define {
        name: String,
        prints: bool,
    },
    /// `$x := ...`, `break`, `continue`, comments: print nothing.
    Silent,
    /// Prints the pipeline's value.
    Output(String),
}

/// Every action of `source`, in order; an unclosed `{{` ends the scan.
pub fn actions(source: &str) -> Vec<Action> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(found) = memchr::memmem::find(&bytes[i..], b"{{") {
        let open = i + found;
        let Some(close) = closing(bytes, open + 2) else {
            break;
        };
        let end = close + 2;
        out.push(Action {
            range: open..end,
            kind: classify(inner(&source[open + 2..close])),
        });
        i = end;
    }
    out
}

/// The index of the `}}` that closes an action whose body starts at `from`, skipping strings
/// and comments.
fn closing(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    let body_start = bytes[from..]
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != b'-')
        .map_or(from, |p| from + p);
    if bytes[body_start..].starts_with(b"/*") {
        let end = memchr::memmem::find(&bytes[body_start + 2..], b"*/")? + body_start + 4;
        return memchr::memmem::find(&bytes[end..], b"}}").map(|p| end + p);
    }
    while i + 1 < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'`' => {
                i += 1 + memchr::memchr(b'`', &bytes[i + 1..])? + 1;
            }
            b'}' if bytes[i + 1] == b'}' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The action's text without the braces' trim markers (`{{- x -}}` is `x`).
pub fn inner(body: &str) -> &str {
    let body = body.strip_prefix('-').unwrap_or(body);
    let body = body.strip_suffix('-').unwrap_or(body);
    body.trim()
}

fn classify(inner: &str) -> Kind {
    if inner.starts_with("/*") {
        return Kind::Silent;
    }
    let (word, rest) = match inner.find(|c: char| c.is_whitespace()) {
        Some(at) => (&inner[..at], inner[at..].trim()),
        None => (inner, ""),
    };
    match word {
        "if" => Kind::If(rest.to_string()),
        "else" => match rest.split_once(char::is_whitespace) {
            Some(("if", cond)) => Kind::ElseIf(cond.trim().to_string()),
            Some(("with", cond)) => Kind::ElseWith(cond.trim().to_string()),
            _ => Kind::Else,
        },
        "end" => Kind::End,
        "with" => Kind::With(without_declaration(rest).to_string()),
        "range" => Kind::Range(without_declaration(rest).to_string()),
        "define" | "block" => Kind::Define {
            name: template_name(rest),
            prints: word == "block",
        },
        "break" | "continue" => Kind::Silent,
        _ if is_assignment(inner) => Kind::Silent,
        _ => Kind::Output(inner.to_string()),
    }
}

/// `"name" .` is `name`.
pub fn template_name(rest: &str) -> String {
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '`');
    match quote {
        Some(q) => rest[1..].split(q).next().unwrap_or_default().to_string(),
        None => String::new(),
    }
}

/// `$k, $v := .Values.x` is `.Values.x`.
fn without_declaration(pipeline: &str) -> &str {
    match pipeline.split_once(":=") {
        Some((vars, expr)) if vars.trim_start().starts_with('$') => expr.trim(),
        _ => pipeline,
    }
}

fn is_assignment(inner: &str) -> bool {
    inner.starts_with('$')
        && inner.split_once('=').is_some_and(|(lhs, _)| {
            lhs.trim_end_matches(':')
                .trim()
                .split(',')
                .all(|v| v.trim().starts_with('$'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_actions() {
        let src = "{{- if .Values.a }}{{ else if eq .x \"}}\" }}{{- else }}{{ end -}}\
                   {{- with $v := .Values.b }}{{ range $k, $v := .L }}{{ $x := 1 }}{{ $x = 2 }}\
                   {{/* a }} comment */}}{{ include \"n\" . | nindent 4 }}{{ define \"n\" }}";
        let kinds: Vec<Kind> = actions(src).into_iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            vec![
                Kind::If(".Values.a".into()),
                Kind::ElseIf("eq .x \"}}\"".into()),
                Kind::Else,
                Kind::End,
                Kind::With(".Values.b".into()),
                Kind::Range(".L".into()),
                Kind::Silent,
                Kind::Silent,
                Kind::Silent,
                Kind::Output("include \"n\" . | nindent 4".into()),
                Kind::Define {
                    name: "n".into(),
                    prints: false
                },
            ]
        );
    }
}
