//! Tolerant reading of Jinja2 (Kubespray) and Helm/Go templates without rendering them.
//!
//! Statements (`{% if %}`, `{{- with }}`, `{{ end }}`, comments) are set aside, lines that are
//! nothing but an expression (`{{ toYaml . | nindent 8 }}`) are set aside too since they stand
//! for YAML we cannot know, and the remaining expressions become placeholders of the same byte
//! length. Every byte outside a template tag stays where it was, so lines, columns and byte
//! offsets of the text we parse are those of the file on disk.

use pg_yaml::{OriginalText, Pos, ScalarStyle, Tree};
use std::ops::Range;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `{% statement %}`, `{{ expression }}`, `{# comment #}`.
    Jinja,
    /// Go templates as Helm uses them: everything is `{{ ... }}`.
    Helm,
}

impl Dialect {
    /// Which dialect a file is written in, judging by its name and place.
    pub fn of(path: &Path) -> Option<Dialect> {
        let name = path.file_name()?.to_str()?;
        if [".j2", ".jinja", ".jinja2"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            return Some(Dialect::Jinja);
        }
        // Anywhere under a chart's `templates/` (charts nest them: `templates/deployments/`).
        crate::helm::chart_root(path).map(|_| Dialect::Helm)
    }
}

/// Where the template expressions were, so that scalars made from them can be read back as
/// the original text.
#[derive(Debug)]
pub struct Expressions {
    original: String,
    ranges: Vec<Range<usize>>,
    /// Byte offset of each character when the text is not pure ASCII.
    char_offsets: Option<Vec<usize>>,
}

impl Expressions {
    /// `ranges` (sorted) are the bytes of `original` that `text` holds placeholders for.
    pub(crate) fn new(original: &str, text: &str, ranges: Vec<Range<usize>>) -> Expressions {
        Expressions {
            original: original.to_string(),
            ranges,
            char_offsets: (!text.is_ascii()).then(|| text.char_indices().map(|(b, _)| b).collect()),
        }
    }

    fn byte(&self, p: Pos) -> usize {
        match &self.char_offsets {
            None => p.index,
            Some(offsets) => offsets.get(p.index).copied().unwrap_or(self.original.len()),
        }
    }
}

impl OriginalText for Expressions {
    /// The original text of a scalar when a template expression stood in it.
    fn original_scalar(&self, start: Pos, end: Pos, style: ScalarStyle) -> Option<&str> {
        let (s, e) = (self.byte(start), self.byte(end));
        let i = self.ranges.partition_point(|r| r.end <= s);
        if self.ranges.get(i).is_none_or(|r| r.start >= e) {
            return None;
        }
        let text = self.original.get(s..e)?;
        Some(match style {
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted if text.len() >= 2 => {
                &text[1..text.len() - 1]
            }
            _ => text,
        })
    }
}

/// Rewrites a template into parseable YAML of the same byte length; see the module docs.
pub fn preprocess(source: &str, dialect: Dialect) -> (String, Expressions) {
    if dialect == Dialect::Helm {
        // Without its chart's values (see `helm::Chart::of_template` for files).
        let chart = crate::helm::Chart::unknown(Path::new(""));
        let r = crate::helm::preprocess(source, &chart, false);
        return (r.text, r.expressions);
    }
    let mut bytes = source.as_bytes().to_vec();
    let expressions = crate::jinja::set_aside_statements(source, &mut bytes);
    let (text, expressions) = with_placeholders(source, bytes, expressions);
    (
        crate::jinja::settle_block_scalars(source, text),
        expressions,
    )
}

/// Sets aside lines that hold only expressions and turns the other expressions into
/// placeholders of the same length. `expressions` is sorted and non-overlapping.
pub(crate) fn with_placeholders(
    source: &str,
    mut bytes: Vec<u8>,
    expressions: Vec<Range<usize>>,
) -> (String, Expressions) {
    let kept = set_aside_expression_lines(&mut bytes, expressions);
    let text = String::from_utf8(bytes).expect("only ASCII bytes replaced whole tags");
    let expressions = Expressions::new(source, &text, kept);
    (text, expressions)
}

/// Lines that hold only expressions stand for YAML we cannot know: they are set aside. The
/// other expressions become `x` placeholders of their own length; those are returned.
/// `expressions` is sorted and non-overlapping (a binary search finds the one covering a byte).
pub(crate) fn set_aside_expression_lines(
    bytes: &mut [u8],
    expressions: Vec<Range<usize>>,
) -> Vec<Range<usize>> {
    let covered = |at: usize| {
        let i = expressions.partition_point(|x| x.end <= at);
        expressions.get(i).is_some_and(|x| x.start <= at)
    };
    let mut placeholders = Vec::with_capacity(expressions.len());
    let mut aside = Vec::new();
    for r in &expressions {
        let line_start = bytes[..r.start]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let line_end =
            memchr::memchr(b'\n', &bytes[r.start..]).map_or(bytes.len(), |p| r.start + p);
        let only_expressions =
            (line_start..line_end).all(|at| bytes[at].is_ascii_whitespace() || covered(at));
        if only_expressions {
            aside.push(r.clone());
        } else {
            placeholders.push(r.clone());
        }
    }
    for r in aside {
        blank(&mut bytes[r]);
    }
    for r in &placeholders {
        for b in &mut bytes[r.clone()] {
            if *b != b'\n' {
                *b = b'x';
            }
        }
    }
    placeholders
}

pub(crate) fn blank(bytes: &mut [u8]) {
    for b in bytes {
        if *b != b'\n' {
            *b = b' ';
        }
    }
}

/// What a templated `priorityClassName` renders to, when the template, the chart's
/// `values.yaml` or the Ansible role's `defaults/` say so.
pub fn resolve_default(expression: &str, file: &Path) -> Option<String> {
    let inner = expression.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim_matches(|c: char| c == '-' || c.is_whitespace());
    if let Some(d) = default_filter(inner) {
        return Some(d);
    }
    if let Some(path) = inner
        .split_whitespace()
        .find_map(|w| w.strip_prefix(".Values."))
    {
        let root = crate::helm::chart_root(file)?;
        let keys: Vec<&str> = path.split('.').collect();
        return lookup_yaml(&root.join("values.yaml"), &keys);
    }
    let var = inner
        .split(|c: char| c == '|' || c.is_whitespace())
        .next()?;
    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    crate::jinja::role_defaults(file)
        .into_iter()
        .find_map(|f| lookup_yaml(&f, &[var]))
}

/// `default('x')`, `d("x")` (Jinja) or `default "x"` (Go templates).
fn default_filter(inner: &str) -> Option<String> {
    for filter in ["default(", "d("] {
        if let Some(at) = inner.find(filter) {
            let boundary = at == 0 || !inner.as_bytes()[at - 1].is_ascii_alphanumeric();
            if boundary {
                return quoted_prefix(inner[at + filter.len()..].trim_start());
            }
        }
    }
    let at = inner.find("default ")?;
    quoted_prefix(inner[at + "default ".len()..].trim_start())
}

fn quoted_prefix(s: &str) -> Option<String> {
    let quote = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &s[1..];
    rest.find(quote).map(|end| rest[..end].to_string())
}

/// A plain scalar at `keys` in a small YAML file (values or defaults).
pub(crate) fn lookup_yaml(file: &Path, keys: &[&str]) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut found = None;
    let _ = pg_yaml::parse_stream(&text, |unit| {
        if found.is_none() {
            found = lookup_in(unit.tree, unit.root, keys);
        }
    });
    found.filter(|v| !v.contains("{{") && !v.is_empty())
}

fn lookup_in(tree: &Tree, root: usize, keys: &[&str]) -> Option<String> {
    tree.path(root, keys)
        .and_then(|id| tree.scalar(id))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jinja_statements_vanish_and_lines_keep_their_place() {
        let src = "a:\n{% if x %}\n  b: {{ y }}\n{% endif %}\n  c: 1\n";
        let (text, ex) = preprocess(src, Dialect::Jinja);
        assert_eq!(text.len(), src.len());
        assert_eq!(text.lines().count(), src.lines().count());
        assert!(text.contains("  b: xxxxxxx\n"));
        assert_eq!(ex.ranges.len(), 1);
    }

    #[test]
    fn expression_only_lines_are_set_aside() {
        let src =
            "spec:\n  affinity:\n    {{ coredns_affinity | to_nice_yaml }}\n  x: {{ a }}:{{ b }}\n";
        let (text, ex) = preprocess(src, Dialect::Jinja);
        assert!(!text.contains("xxx\n  x"), "{text}");
        assert_eq!(ex.ranges.len(), 2);
    }

    #[test]
    fn helm_actions_are_statements() {
        let src = "      {{- with .Values.tolerations }}\n      tolerations:\n        {{- toYaml . | nindent 8 }}\n      {{- end }}\n      image: {{ .Values.image }}\n";
        let (text, ex) = preprocess(src, Dialect::Helm);
        assert_eq!(text.trim_start().lines().next(), Some("tolerations:"));
        assert_eq!(ex.ranges.len(), 1);
    }

    #[test]
    fn defaults_from_filters() {
        let p = Path::new("x.j2");
        assert_eq!(
            resolve_default("{{ multus_pc | default('system-node-critical') }}", p).as_deref(),
            Some("system-node-critical")
        );
        assert_eq!(
            resolve_default("{{ .Values.pc | default \"system-cluster-critical\" }}", p).as_deref(),
            Some("system-cluster-critical")
        );
        assert_eq!(resolve_default("{{ unknown_var }}", p), None);
    }
}
