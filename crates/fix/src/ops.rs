//! The three edits a pod spec can get: add `priorityClassName`, change its value, delete
//! `priority`. Each touches only the bytes of that one key.
//!
//! Where a new `priorityClassName` goes (block style): right after the leading run of the pod
//! spec's one-line scalar keys (`hostNetwork: true`, `dnsPolicy: ...`), at the column of the
//! spec's keys; when the spec starts with a collection (`containers:`), as its first key. This
//! is where people write it (Kubespray's own fix put it after `dnsPolicy`), and it never lands
//! between a key and its nested lines. Template lines end the run: a key inside `{% if %}` or
//! after a `{{- with }}` is conditional, so the new key goes before the conditional instead
//! (together with comment lines right above it, which belong to what follows them). In flow
//! style and JSON the new key becomes the first one.

use crate::edit::Edit;
use crate::parse::{Entry, Spec};
use crate::text::Text;
use pg_yaml::ScalarStyle;
use pg_yaml::write as yaml;

/// The value the pod spec will name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewValue {
    Class(String),
    /// A template expression, written as is (`{{ .Values.priorityClassName }}`).
    Expression(String),
}

impl NewValue {
    fn yaml(&self) -> String {
        match self {
            NewValue::Class(c) => yaml::scalar(c).into_owned(),
            NewValue::Expression(e) => e.clone(),
        }
    }

    fn json(&self) -> String {
        match self {
            NewValue::Class(c) => yaml::double_quoted(c),
            NewValue::Expression(e) => e.clone(),
        }
    }

    /// The text between a quoted scalar's quotes.
    fn inner(&self, style: ScalarStyle) -> String {
        let quoted = match (self, style) {
            (NewValue::Expression(e), _) => return e.clone(),
            (NewValue::Class(c), ScalarStyle::SingleQuoted) => yaml::single_quoted(c),
            (NewValue::Class(c), _) => yaml::double_quoted(c),
        };
        quoted[1..quoted.len() - 1].to_string()
    }
}

/// Why a finding was left alone.
pub type Unfixable = String;

pub const CLASS_KEY: &str = "priorityClassName";
pub const PRIORITY_KEY: &str = "priority";

pub fn insert_class(text: &Text, spec: &Spec, value: &NewValue) -> Edit {
    if spec.flow {
        insert_flow(text, spec, value)
    } else {
        insert_block(text, spec, value)
    }
}

fn insert_block(text: &Text, spec: &Spec, value: &NewValue) -> Edit {
    let first = &spec.entries[0];
    let indent = " ".repeat(first.key_start.col);
    let line = format!("{indent}{CLASS_KEY}: {}", value.yaml());
    let mut previous = spec.parent_line;
    let mut anchor = None;
    for e in &spec.entries {
        let conditional = (previous + 1..e.key_start.line).any(|l| text.is_template_line(l));
        if conditional || !e.is_one_line_scalar() || !text.starts_line(e.key_start) {
            break;
        }
        anchor = Some(e.key_start.line);
        previous = e.key_start.line;
    }
    match anchor {
        Some(after) => {
            let at = text.line_start(after + 1);
            let eol = text.eol(after);
            if at == text.body().len() && !text.body().ends_with('\n') {
                Edit::insert(at, format!("{eol}{line}"))
            } else {
                Edit::insert(at, format!("{line}{eol}"))
            }
        }
        None => {
            let mut before = first.key_start.line;
            while before - 1 > spec.parent_line
                && (text.is_template_line(before - 1) || text.is_comment_line(before - 1))
            {
                before -= 1;
            }
            Edit::insert(
                text.line_start(before),
                format!("{line}{}", text.eol(before)),
            )
        }
    }
}

fn insert_flow(text: &Text, spec: &Spec, value: &NewValue) -> Edit {
    let entry = |sep: &str| {
        if spec.quoted_keys {
            format!("\"{CLASS_KEY}\"{sep}{}", value.json())
        } else {
            format!("{CLASS_KEY}{sep}{}", value.yaml())
        }
    };
    let Some(first) = spec.entries.first() else {
        return Edit::insert(text.offset(spec.start) + 1, entry(": "));
    };
    let between = &text.body()[text.offset(first.key_end)..text.offset(first.value_start)];
    let sep = if between.contains('\n') || !between.starts_with(':') {
        ": "
    } else {
        between
    };
    let line = first.key_start.line;
    if line > spec.start.line && text.starts_line(first.key_start) {
        Edit::insert(
            text.line_start(line),
            format!(
                "{}{},{}",
                text.indentation(line),
                entry(sep),
                text.eol(line)
            ),
        )
    } else {
        Edit::insert(text.offset(first.key_start), format!("{}, ", entry(sep)))
    }
}

/// A new value for an existing `priorityClassName`, in the old value's quoting style.
pub fn replace_class(text: &Text, entry: &Entry, value: &NewValue) -> Result<Edit, Unfixable> {
    let range = text.offset(entry.value_start)..text.offset(entry.value_end);
    let old = &text.body()[range.clone()];
    if matches!(value, NewValue::Class(_)) && (old.contains("{{") || old.contains("{%")) {
        return Err("the class comes from a template expression; change what it renders to, or pass --template-expr".into());
    }
    let new = match entry.value_style {
        Some(ScalarStyle::Plain) => value.yaml(),
        Some(style @ (ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted)) => {
            let quote = &old[..1];
            format!("{quote}{}{quote}", value.inner(style))
        }
        _ => return Err("the class is written as a block scalar; edit it by hand".into()),
    };
    Ok(Edit { range, text: new })
}

/// Deletes `priority` with its line (block style) or with its comma (flow style).
pub fn remove_priority(text: &Text, spec: &Spec, entry: &Entry) -> Result<Edit, Unfixable> {
    if !entry.is_one_line_scalar() {
        return Err("spec.priority is not a one-line value; delete it by hand".into());
    }
    let line = entry.key_start.line;
    if !spec.flow {
        if !text.starts_line(entry.key_start) {
            return Err("spec.priority shares its line with other YAML; delete it by hand".into());
        }
        let end = text.line_start(line + 1);
        let body = text.body();
        let range = if end == body.len() && !body.ends_with('\n') && line > 1 {
            // The last line, without a newline: take the break before it, so the file still
            // ends without one.
            let start = text.line_start(line);
            start - text.eol(line - 1).len()..end
        } else {
            text.line_start(line)..end
        };
        return Ok(Edit {
            range,
            text: String::new(),
        });
    }
    let index = spec
        .entries
        .iter()
        .position(|e| e.key_start == entry.key_start)
        .expect("entry of this spec");
    let start = text.offset(entry.key_start);
    let range = match spec.entries.get(index + 1) {
        Some(next)
            if next.key_start.line > line
                && text.starts_line(entry.key_start)
                && text.starts_line(next.key_start) =>
        {
            text.line_start(line)..text.line_start(next.key_start.line)
        }
        Some(next) => start..text.offset(next.key_start),
        None => {
            let end = text.offset(entry.value_end);
            let before = text.body()[..start].trim_end();
            match before.strip_suffix(',') {
                Some(kept) => kept.len()..end,
                None => start..end,
            }
        }
    };
    Ok(Edit {
        range,
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use pg_sources::template::Dialect;

    /// The pod spec of the only Pod in `yaml`, edited by `op`.
    fn edit(yaml: &str, dialect: Option<Dialect>, op: impl Fn(&Text, &Spec) -> Edit) -> String {
        let text = Text::new(yaml, dialect);
        let parsed = parse(&text, &"t.yaml".into(), None).unwrap();
        let spec = parsed.sites[0].spec.as_ref().unwrap();
        let e = op(&text, spec);
        text.with_body(&crate::edit::apply(text.body(), vec![e]).unwrap())
    }

    fn insert(yaml: &str, dialect: Option<Dialect>) -> String {
        let value = NewValue::Class("system-node-critical".into());
        edit(yaml, dialect, |t, s| insert_class(t, s, &value))
    }

    #[test]
    fn after_the_leading_scalars_even_at_the_end_of_the_file() {
        assert_eq!(
            insert("kind: Pod\nspec:\n  hostNetwork: true", None),
            "kind: Pod\nspec:\n  hostNetwork: true\n  priorityClassName: system-node-critical"
        );
        assert_eq!(
            insert("\u{feff}kind: Pod\r\nspec:\r\n   containers: []\r\n", None),
            "\u{feff}kind: Pod\r\nspec:\r\n   priorityClassName: system-node-critical\r\n   containers: []\r\n"
        );
    }

    #[test]
    fn before_a_conditional_and_the_comment_above_it() {
        let src = "kind: Pod\nspec:\n  # host\n{% if x %}\n  hostNetwork: true\n{% endif %}\n  dnsPolicy: Default\n";
        assert_eq!(
            insert(src, Some(Dialect::Jinja)),
            src.replace(
                "spec:\n",
                "spec:\n  priorityClassName: system-node-critical\n"
            )
        );
    }

    #[test]
    fn empty_values_are_blocks() {
        let src = "kind: Pod\nspec:\n  hostNetwork: true\n  tolerations:\n    {{- toYaml .Values.t | nindent 4 }}\n  containers: []\n";
        assert_eq!(
            insert(src, Some(Dialect::Helm)),
            src.replace(
                "true\n",
                "true\n  priorityClassName: system-node-critical\n"
            )
        );
    }

    #[test]
    fn flow_mappings_get_it_first() {
        assert_eq!(
            insert("kind: Pod\nspec: {}\n", None),
            "kind: Pod\nspec: {priorityClassName: system-node-critical}\n"
        );
        assert_eq!(
            insert("{\"kind\": \"Pod\", \"spec\": {\"containers\": []}}", None),
            "{\"kind\": \"Pod\", \"spec\": {\"priorityClassName\": \"system-node-critical\", \"containers\": []}}"
        );
    }

    #[test]
    fn template_lines_above_the_spec_do_not_end_its_leading_scalars() {
        let src = "kind: Pod\nmetadata:\n  {{- with .Values.podAnnotations }}\n  annotations:\n    {{- toYaml . | nindent 4 }}\n  {{- end }}\nspec:\n  hostNetwork: true\n  containers: []\n";
        assert_eq!(
            insert(src, Some(Dialect::Helm)),
            src.replace(
                "true\n",
                "true\n  priorityClassName: system-node-critical\n"
            )
        );
    }

    #[test]
    fn before_a_first_collection_goes_above_its_template_lines_but_not_above_a_blank_line() {
        let src = "kind: Pod\nspec:\n  {{- include \"common.images.renderPullSecrets\" (dict \"images\" (list .Values.image) \"context\" $) | nindent 2 }}\n  containers: []\n";
        assert_eq!(
            insert(src, Some(Dialect::Helm)),
            src.replace(
                "spec:\n",
                "spec:\n  priorityClassName: system-node-critical\n"
            )
        );
        assert_eq!(
            insert("kind: Pod\nspec:\n\n  containers: []\n", None),
            "kind: Pod\nspec:\n\n  priorityClassName: system-node-critical\n  containers: []\n"
        );
    }

    #[test]
    fn flow_mappings_keep_a_compact_separator_but_not_a_spaced_one() {
        assert_eq!(
            insert("{\"kind\":\"Pod\",\"spec\":{\"containers\":[]}}", None),
            "{\"kind\":\"Pod\",\"spec\":{\"priorityClassName\":\"system-node-critical\", \"containers\":[]}}"
        );
        // Jackson's pretty printer writes ` : `.
        assert_eq!(
            insert(
                "{\n  \"kind\" : \"Pod\",\n  \"spec\" : {\n    \"containers\" : [ ]\n  }\n}\n",
                None
            ),
            "{\n  \"kind\" : \"Pod\",\n  \"spec\" : {\n    \"priorityClassName\": \"system-node-critical\",\n    \"containers\" : [ ]\n  }\n}\n"
        );
    }

    #[test]
    fn a_class_from_a_template_expression_is_not_replaced_by_a_name() {
        let value = NewValue::Class("system-node-critical".into());
        for (src, dialect) in [
            (
                "kind: Pod\nspec:\n  priorityClassName: {{ .Values.priorityClassName }}\n",
                Dialect::Helm,
            ),
            (
                "kind: Pod\nspec:\n  priorityClassName: \"{% if ha %}system-cluster-critical{% else %}system-node-critical{% endif %}\"\n",
                Dialect::Jinja,
            ),
        ] {
            let text = Text::new(src, Some(dialect));
            let parsed = parse(&text, &"t.yaml".into(), None).unwrap();
            let spec = parsed.sites[0].spec.as_ref().unwrap();
            let err = replace_class(&text, spec.entry(CLASS_KEY).unwrap(), &value).unwrap_err();
            assert!(
                err.starts_with("the class comes from a template expression"),
                "{err}"
            );
        }
    }

    #[test]
    fn replacing_keeps_the_quotes_and_the_comment() {
        let value = NewValue::Class("system-node-critical".into());
        let replace = |src: &str| {
            edit(src, None, |t, s| {
                replace_class(t, s.entry(CLASS_KEY).unwrap(), &value).unwrap()
            })
        };
        assert_eq!(
            replace("kind: Pod\nspec:\n  priorityClassName: \"low\"  # why\n"),
            "kind: Pod\nspec:\n  priorityClassName: \"system-node-critical\"  # why\n"
        );
        assert_eq!(
            replace("kind: Pod\nspec: {priorityClassName: 'low', containers: []}\n"),
            "kind: Pod\nspec: {priorityClassName: 'system-node-critical', containers: []}\n"
        );
    }

    #[test]
    fn a_quoted_class_ends_at_its_closing_quote_not_at_an_escaped_one() {
        let value = NewValue::Class("system-node-critical".into());
        let replace = |src: &str| {
            edit(src, None, |t, s| {
                replace_class(t, s.entry(CLASS_KEY).unwrap(), &value).unwrap()
            })
        };
        assert_eq!(
            replace("kind: Pod\nspec:\n  priorityClassName: 'ops''s'  # why\n"),
            "kind: Pod\nspec:\n  priorityClassName: 'system-node-critical'  # why\n"
        );
        assert_eq!(
            replace("kind: Pod\nspec:\n  priorityClassName: \"ops\\\"s\"  # why\n"),
            "kind: Pod\nspec:\n  priorityClassName: \"system-node-critical\"  # why\n"
        );
    }

    #[test]
    fn removing_priority_keeps_the_neighbours_bytes() {
        let remove = |src: &str| {
            edit(src, None, |t, s| {
                remove_priority(t, s, s.entry(PRIORITY_KEY).unwrap()).unwrap()
            })
        };
        // The last line, after a line ending in LF in a file that also has CRLF: only the LF
        // before it goes.
        assert_eq!(
            remove("kind: Pod\r\nspec:\n  containers: []\n  priority: 5"),
            "kind: Pod\r\nspec:\n  containers: []"
        );
        // First in a flow mapping that starts on the `spec:` line: that line stays.
        assert_eq!(
            remove("kind: Pod\nspec: {priority: 5,\n  containers: []}\n"),
            "kind: Pod\nspec: {containers: []}\n"
        );
    }

    #[test]
    fn removing_priority_in_every_style() {
        let remove = |src: &str| {
            edit(src, None, |t, s| {
                remove_priority(t, s, s.entry(PRIORITY_KEY).unwrap()).unwrap()
            })
        };
        assert_eq!(
            remove("kind: Pod\nspec:\n  priority: 5\n  containers: []\n"),
            "kind: Pod\nspec:\n  containers: []\n"
        );
        assert_eq!(
            remove("kind: Pod\nspec:\n  containers: []\n  priority: 5"),
            "kind: Pod\nspec:\n  containers: []"
        );
        assert_eq!(
            remove("kind: Pod\nspec: {priority: 5, containers: []}\n"),
            "kind: Pod\nspec: {containers: []}\n"
        );
        assert_eq!(
            remove("{\"kind\": \"Pod\", \"spec\": {\n  \"containers\": [],\n  \"priority\": 5\n}}"),
            "{\"kind\": \"Pod\", \"spec\": {\n  \"containers\": []\n}}"
        );
    }
}
