//! Helm charts whose pod spec takes its class from a value (`priorityClassName: {{
//! .Values.x.priorityClassName }}`, or a key inside `{{- with .Values.x.priorityClassName }}`):
//! the chart's maintainers set such a class in `values.yaml`, so that is where the fix goes;
//! the template stays as it is.

use crate::parse::Spec;
use crate::text::Text;
use std::path::{Path, PathBuf};

/// The values file to set and the keys that decide the class of the pod spec `spec` of
/// `template`, when a value decides it: the `--values` file (one of `overrides`) that sets the
/// value now, else the chart's own `values.yaml`.
pub fn class_value(
    text: &Text,
    spec: &Spec,
    template: &Path,
    overrides: &[PathBuf],
) -> Option<(PathBuf, Vec<String>)> {
    let facts = text.helm()?;
    if spec.flow {
        return None;
    }
    let source = facts
        .classes
        .iter()
        .find(|c| c.line > spec.parent_line && in_spec(text, spec, c.line))?;
    if let Some(file) = source.set_in.as_ref().filter(|f| overrides.contains(f)) {
        return Some((file.clone(), source.keys.clone()));
    }
    let values = pg_sources::helm::chart_root(template)?.join("values.yaml");
    values.is_file().then(|| (values, source.keys.clone()))
}

/// Whether a key on `line` (perhaps set aside, as a key in a `with` on an empty value is) is
/// one of the block mapping's keys: at its column, with nothing the parser read between the
/// `spec:` line and it at a lesser indentation.
fn in_spec(text: &Text, spec: &Spec, line: usize) -> bool {
    let col = spec.start.col;
    let indent = |s: &str| s.len() - s.trim_start_matches(' ').len();
    let parsed = |l: usize| &text.parsed()[text.line_start(l)..text.line_start(l + 1)];
    indent(text.line(line)) == col
        && (spec.parent_line + 1..line).all(|l| {
            let p = parsed(l);
            p.trim().is_empty() || p.trim_start().starts_with('#') || indent(p) >= col
        })
}
