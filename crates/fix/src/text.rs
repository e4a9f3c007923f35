//! A file's text as the fixer sees it: the exact original bytes, and the parseable rewrite that
//! the parser's positions refer to.
//!
//! Templates are parsed through [`pg_sources::template::preprocess`], which keeps every byte
//! outside a template tag where it was. Lines and byte offsets are therefore the same in the
//! original and in the rewrite; only character columns can differ (a tag's non-ASCII bytes
//! become several ASCII characters), so columns are always counted in the rewrite.

use pg_sources::helm::{self, Chart, Facts};
use pg_sources::template::{Dialect, Expressions};
use pg_yaml::Pos;
use std::ops::Range;
use std::path::{Path, PathBuf};

const BOM: &str = "\u{feff}";

pub struct Text {
    /// A byte-order mark is not part of the YAML; it is put back in front of the result.
    bom: bool,
    body: String,
    /// The parseable rewrite of a template (same byte length as `body`).
    template: Option<(String, Expressions)>,
    dialect: Option<Dialect>,
    /// What a Helm template's chart values say about it.
    helm: Option<Facts>,
    /// Byte offset where each line starts (`line_starts[0] == 0`).
    line_starts: Vec<usize>,
}

impl Text {
    pub fn new(text: &str, dialect: Option<Dialect>) -> Text {
        let (bom, body) = match text.strip_prefix(BOM) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let template = dialect.map(|d| pg_sources::template::preprocess(body, d));
        Text::with_template(bom, body, template, dialect, None)
    }

    /// The text of a file, read as the audit reads it: a Helm template with its chart's values
    /// merged with `values` (`--values` files).
    pub fn for_file(text: &str, path: Option<&Path>, values: &[PathBuf]) -> Text {
        let dialect = path.and_then(Dialect::of);
        let (Some(Dialect::Helm), Some(path)) = (dialect, path) else {
            return Text::new(text, dialect);
        };
        let (bom, body) = match text.strip_prefix(BOM) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        // A chart whose values cannot be read was reported by the audit; read it without them.
        let chart = Chart::of_template(path, values).unwrap_or_else(|_| Chart::unknown(path));
        let r = helm::preprocess(body, &chart, helm::is_helpers_file(path));
        Text::with_template(
            bom,
            body,
            Some((r.text, r.expressions)),
            dialect,
            Some(r.facts),
        )
    }

    fn with_template(
        bom: bool,
        body: &str,
        template: Option<(String, Expressions)>,
        dialect: Option<Dialect>,
        helm: Option<Facts>,
    ) -> Text {
        let mut line_starts = vec![0];
        line_starts.extend(newlines(body).map(|i| i + 1));
        Text {
            bom,
            body: body.to_string(),
            template,
            dialect,
            helm,
            line_starts,
        }
    }

    pub fn helm(&self) -> Option<&Facts> {
        self.helm.as_ref()
    }

    pub fn dialect(&self) -> Option<Dialect> {
        self.dialect
    }

    /// The original text, without the byte-order mark.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// What the YAML parser reads.
    pub fn parsed(&self) -> &str {
        self.template.as_ref().map_or(&self.body, |(t, _)| t)
    }

    pub fn expressions(&self) -> Option<&Expressions> {
        self.template.as_ref().map(|(_, x)| x)
    }

    /// The whole file again around a new body: the byte-order mark, if any, in front.
    pub fn with_body(&self, body: &str) -> String {
        if self.bom {
            format!("{BOM}{body}")
        } else {
            body.to_string()
        }
    }

    /// Number of lines (a final line without a newline counts; a trailing newline does not
    /// start another).
    pub fn line_count(&self) -> usize {
        let n = self.line_starts.len();
        if self.body.ends_with('\n') || self.body.is_empty() {
            n - 1
        } else {
            n
        }
    }

    /// Byte offset of a parser position.
    pub fn offset(&self, p: Pos) -> usize {
        let start = self.line_start(p.line);
        let line = &self.parsed()[start..];
        line.char_indices()
            .nth(p.col)
            .map_or(self.body.len(), |(b, _)| start + b)
    }

    /// The parser position of a byte offset (the inverse of [`Text::offset`]).
    pub fn pos_at(&self, offset: usize) -> Pos {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        Pos {
            index: self.parsed()[..offset].chars().count(),
            line,
            col: self.parsed()[start..offset].chars().count(),
        }
    }

    /// Byte offset where 1-based `line` starts (the end of the text past the last line).
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.body.len())
    }

    /// The line's bytes without its line break.
    pub fn line(&self, line: usize) -> &str {
        let r = self.line_content(line);
        &self.body[r]
    }

    fn line_content(&self, line: usize) -> Range<usize> {
        let start = self.line_start(line);
        let end = self.line_start(line + 1);
        let text = &self.body[start..end];
        let trimmed = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(text);
        start..start + trimmed.len()
    }

    /// The line break ending `line` (`"\r\n"` or `"\n"`), or the file's usual one when the line
    /// has none (the last line).
    pub fn eol(&self, line: usize) -> &'static str {
        let end = self.line_content(line).end;
        match &self.body[end..self.line_start(line + 1)] {
            "\r\n" => "\r\n",
            "\n" => "\n",
            _ if self.body.contains("\r\n") => "\r\n",
            _ => "\n",
        }
    }

    /// A line that is only a template statement (or an expression standing for unknown YAML):
    /// something the YAML parser never saw.
    pub fn is_template_line(&self, line: usize) -> bool {
        let Some((parsed, _)) = &self.template else {
            return false;
        };
        let r = self.line_content(line);
        parsed[r.clone()].trim().is_empty() && !self.body[r].trim().is_empty()
    }

    pub fn is_comment_line(&self, line: usize) -> bool {
        self.line(line).trim_start().starts_with('#')
    }

    /// Whether `p` is the first thing on its line.
    pub fn starts_line(&self, p: Pos) -> bool {
        self.body[self.line_start(p.line)..self.offset(p)]
            .chars()
            .all(|c| c == ' ' || c == '\t')
    }

    /// The whitespace a line starts with.
    pub fn indentation(&self, line: usize) -> &str {
        let l = self.line(line);
        &l[..l.len() - l.trim_start_matches([' ', '\t']).len()]
    }
}

fn newlines(s: &str) -> impl Iterator<Item = usize> + '_ {
    s.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'\n')
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: usize, col: usize) -> Pos {
        Pos {
            index: 0,
            line,
            col,
        }
    }

    #[test]
    fn offsets_lines_and_breaks() {
        let t = Text::new("\u{feff}a: é\r\nbb: 1", None);
        assert_eq!(t.line(1), "a: é");
        assert_eq!(t.eol(1), "\r\n");
        assert_eq!(t.eol(2), "\r\n", "the file's usual break");
        assert_eq!(t.offset(pos(1, 4)), 5, "after the two bytes of é");
        assert_eq!(t.offset(pos(2, 5)), t.body().len());
        assert_eq!(t.pos_at(5).col, 4);
        assert_eq!(t.line_count(), 2);
        assert_eq!(t.with_body("x"), "\u{feff}x");
        // A trailing newline ends the last line; it does not start another.
        assert_eq!(Text::new("a: 1\n", None).line_count(), 1);
        assert_eq!(Text::new("a: 1\nb: 2", None).line_count(), 2);
        assert_eq!(Text::new("", None).line_count(), 0);
    }

    #[test]
    fn template_lines_are_the_ones_the_parser_never_saw() {
        let t = Text::new(
            "a:\n{% if x %}\n  b: {{ y }}\n{% endif %}\n",
            Some(Dialect::Jinja),
        );
        let lines: Vec<bool> = (1..=4).map(|l| t.is_template_line(l)).collect();
        assert_eq!(lines, [false, true, false, true]);
    }
}
