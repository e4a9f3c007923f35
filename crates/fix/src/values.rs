//! Helm charts: when a template gets `{{ .Values.priorityClassName }}`, the chart's
//! `values.yaml` gets `priorityClassName: <class>` so that the chart renders the class by
//! default. An existing empty value is filled in; an existing different value is left alone.

use crate::edit::Edit;
use crate::ops::Unfixable;
use crate::text::Text;
use pg_yaml::write as yaml;
use pg_yaml::{NodeId, NodeKind, ScalarStyle, Tree};
use std::path::{Path, PathBuf};

/// `.Values.a.b` in a template expression, as keys.
pub fn values_keys(expression: &str) -> Option<Vec<String>> {
    let at = expression.find(".Values.")?;
    let path: String = expression[at + ".Values.".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    let keys: Vec<String> = path
        .split('.')
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    (!keys.is_empty()).then_some(keys)
}

/// The `values.yaml` of the chart a template belongs to.
pub fn values_file(template: &Path) -> Option<PathBuf> {
    template
        .ancestors()
        .skip(1)
        .filter(|d| d.file_name().is_some_and(|n| n == "templates"))
        .filter_map(Path::parent)
        .map(|root| root.join("values.yaml"))
        .find(|v| v.is_file())
}

/// The edit that makes `keys` default to `class` (`None`: it already does). A value already
/// set to another class is replaced only when `replace` says so (the audit judged that value).
pub fn set_default(
    text: &Text,
    keys: &[String],
    class: &str,
    replace: bool,
) -> Result<Option<Edit>, Unfixable> {
    let mut found: Option<Result<Option<Edit>, Unfixable>> = None;
    pg_yaml::parse_stream(text.parsed(), |unit| {
        if found.is_none() {
            found = Some(edit_in(text, unit.tree, unit.root, (keys, class), replace));
        }
    })
    .map_err(|e| {
        format!(
            "values.yaml does not parse (line {}: {})",
            e.line, e.message
        )
    })?;
    found.unwrap_or_else(|| Ok(Some(append(text, keys, class))))
}

fn edit_in(
    text: &Text,
    tree: &Tree,
    root: NodeId,
    (keys, class): (&[String], &str),
    replace: bool,
) -> Result<Option<Edit>, Unfixable> {
    let dotted = keys.join(".");
    let mut node = root;
    let mut parent_line = 0;
    for (depth, key) in keys.iter().enumerate() {
        if !matches!(tree.node(node).kind, NodeKind::Map(_)) {
            return Err(format!(
                "values.yaml has no mapping for {dotted}; add it by hand"
            ));
        }
        match tree.get_entry(node, key) {
            Some((key_node, value)) if depth + 1 < keys.len() => {
                node = value;
                parent_line = tree.node(key_node).start.line;
            }
            Some((key_node, value)) => {
                return fill(text, tree, (key_node, value), &dotted, class, replace);
            }
            None if depth == 0 => return Ok(Some(append(text, keys, class))),
            None => {
                return insert_first(text, tree, (node, parent_line), &keys[depth..], class)
                    .map(Some);
            }
        }
    }
    unreachable!("keys are not empty")
}

/// Sets an existing key whose value is empty or null; leaves a set one alone unless `replace`.
fn fill(
    text: &Text,
    tree: &Tree,
    (key, value): (NodeId, NodeId),
    dotted: &str,
    class: &str,
    replace: bool,
) -> Result<Option<Edit>, Unfixable> {
    let node = tree.node(value);
    let NodeKind::Scalar { value: v, style } = &node.kind else {
        return Err(format!(
            "values.yaml has a collection at {dotted}; set it by hand"
        ));
    };
    let range = text.offset(node.start)..text.offset(crate::parse::end_of(text, tree, value));
    let new = match style {
        _ if v == class => return Ok(None),
        ScalarStyle::Plain if v.is_empty() => {
            // `key:` with nothing after it: the value goes after the colon.
            let after_key = text.offset(tree.node(key).end);
            let colon = after_key
                + text.body()[after_key..]
                    .find(':')
                    .expect("a mapping key is followed by a colon");
            return Ok(Some(Edit::insert(
                colon + 1,
                format!(" {}", yaml::scalar(class)),
            )));
        }
        ScalarStyle::Plain if matches!(v.as_str(), "~" | "null" | "Null" | "NULL") => {
            yaml::scalar(class).into_owned()
        }
        ScalarStyle::DoubleQuoted if v.is_empty() => yaml::double_quoted(class),
        ScalarStyle::SingleQuoted if v.is_empty() => yaml::single_quoted(class),
        ScalarStyle::DoubleQuoted if replace => yaml::double_quoted(class),
        ScalarStyle::SingleQuoted if replace => yaml::single_quoted(class),
        ScalarStyle::Plain if replace => yaml::scalar(class).into_owned(),
        _ => {
            return Err(format!("values.yaml sets {dotted} to {v:?}; left as it is"));
        }
    };
    Ok(Some(Edit { range, text: new }))
}

/// New lines as the first keys of an existing block mapping (`flannel:` gets
/// `priorityClassName:` right under it, above comments that describe the next key).
fn insert_first(
    text: &Text,
    tree: &Tree,
    (map, parent_line): (NodeId, usize),
    keys: &[String],
    class: &str,
) -> Result<Edit, Unfixable> {
    let first = match &tree.node(map).kind {
        NodeKind::Map(entries) => entries.first().map(|&(k, _)| tree.node(k).start),
        _ => None,
    };
    let first = first.filter(|&p| text.starts_line(p)).ok_or_else(|| {
        format!(
            "values.yaml writes the mapping for {} in flow style; add `{}: {class}` by hand",
            keys[0],
            keys.join(".")
        )
    })?;
    let mut line = first.line;
    while line - 1 > parent_line && text.is_comment_line(line - 1) {
        line -= 1;
    }
    let lines = nested(keys, class, first.col, text.eol(line));
    Ok(Edit::insert(text.line_start(line), lines))
}

/// New top-level lines at the end of the file.
fn append(text: &Text, keys: &[String], class: &str) -> Edit {
    let body = text.body();
    let last = text.line_count().max(1);
    let eol = text.eol(last);
    let mut lines = String::new();
    if !body.is_empty() && !body.ends_with('\n') {
        lines.push_str(eol);
    }
    lines.push_str(&nested(keys, class, 0, eol));
    Edit::insert(body.len(), lines)
}

/// `a:` / `  b: class`, starting at column `col`, two spaces deeper per level.
fn nested(keys: &[String], class: &str, col: usize, eol: &str) -> String {
    let mut lines = String::new();
    for (depth, key) in keys.iter().enumerate() {
        let indent = " ".repeat(col + 2 * depth);
        if depth + 1 == keys.len() {
            lines.push_str(&format!("{indent}{key}: {}{eol}", yaml::scalar(class)));
        } else {
            lines.push_str(&format!("{indent}{key}:{eol}"));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(values: &str, keys: &[&str]) -> Result<String, Unfixable> {
        set_or_replace(values, keys, false)
    }

    fn set_or_replace(values: &str, keys: &[&str], replace: bool) -> Result<String, Unfixable> {
        let text = Text::new(values, None);
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let edits = set_default(&text, &keys, "system-node-critical", replace)?;
        Ok(crate::edit::apply(text.body(), edits.into_iter().collect()).unwrap())
    }

    #[test]
    fn null_and_empty_values_are_filled_in_their_own_style() {
        let key = ["speaker", "priorityClassName"];
        for (before, after) in [
            ("~  # c", "system-node-critical  # c"),
            ("null  # c", "system-node-critical  # c"),
            ("\"\"", "\"system-node-critical\""),
            ("''", "'system-node-critical'"),
            ("\"\"  # c", "\"system-node-critical\"  # c"),
            ("''  # c", "'system-node-critical'  # c"),
            ("system-node-critical  # c", "system-node-critical  # c"),
        ] {
            assert_eq!(
                set(&format!("speaker:\n  priorityClassName: {before}\n"), &key).unwrap(),
                format!("speaker:\n  priorityClassName: {after}\n"),
                "{before}"
            );
        }
    }

    #[test]
    fn a_class_the_audit_judged_is_replaced_in_its_own_style() {
        let key = ["speaker", "priorityClassName"];
        for (before, after) in [
            ("system-cluster-critical", "system-node-critical"),
            ("\"system-cluster-critical\"", "\"system-node-critical\""),
            ("'system-cluster-critical'", "'system-node-critical'"),
            (
                "\"system-cluster-critical\"  # why",
                "\"system-node-critical\"  # why",
            ),
        ] {
            let values = format!("speaker:\n  priorityClassName: {before}\n");
            assert_eq!(
                set_or_replace(&values, &key, true).unwrap(),
                format!("speaker:\n  priorityClassName: {after}\n")
            );
            assert_eq!(
                set(&values, &key).unwrap_err(),
                format!(
                    "values.yaml sets speaker.priorityClassName to \"system-cluster-critical\"; left as it is"
                )
            );
        }
    }

    #[test]
    fn a_key_with_nothing_after_its_colon_gets_the_class_after_it() {
        assert_eq!(
            set(
                "speaker:\n  priorityClassName:\n  image: x\n",
                &["speaker", "priorityClassName"]
            )
            .unwrap(),
            "speaker:\n  priorityClassName: system-node-critical\n  image: x\n"
        );
    }

    #[test]
    fn a_new_first_key_goes_above_the_comments_of_the_next_one_but_not_above_other_lines() {
        let key = ["speaker", "priorityClassName"];
        // MetalLB's values.yaml describes each key in comments above it.
        assert_eq!(
            set(
                "speaker:\n  # -- Speaker image\n  # repository\n  image: x\n",
                &key
            )
            .unwrap(),
            "speaker:\n  priorityClassName: system-node-critical\n  # -- Speaker image\n  # repository\n  image: x\n"
        );
        // A blank line is not a comment: the new key goes next to the first key.
        assert_eq!(
            set("speaker:\n\n  image: x\n", &key).unwrap(),
            "speaker:\n\n  priorityClassName: system-node-critical\n  image: x\n"
        );
    }

    #[test]
    fn keys_under_missing_or_nested_mappings() {
        assert_eq!(
            set(
                "controller:\n  image: x\n",
                &["speaker", "priorityClassName"]
            )
            .unwrap(),
            "controller:\n  image: x\nspeaker:\n  priorityClassName: system-node-critical\n"
        );
        assert_eq!(
            set(
                "speaker:\n  pod:\n    image: x\n",
                &["speaker", "pod", "priorityClassName"]
            )
            .unwrap(),
            "speaker:\n  pod:\n    priorityClassName: system-node-critical\n    image: x\n"
        );
        assert_eq!(
            set("", &["priorityClassName"]).unwrap(),
            "priorityClassName: system-node-critical\n"
        );
    }

    #[test]
    fn values_it_cannot_edit_say_why() {
        let key = ["speaker", "priorityClassName"];
        assert_eq!(
            set("speaker: enabled\n", &key).unwrap_err(),
            "values.yaml has no mapping for speaker.priorityClassName; add it by hand"
        );
        assert_eq!(
            set("speaker:\n  priorityClassName: [a]\n", &key).unwrap_err(),
            "values.yaml has a collection at speaker.priorityClassName; set it by hand"
        );
        assert_eq!(
            set("speaker: {image: x}\n", &key).unwrap_err(),
            "values.yaml writes the mapping for priorityClassName in flow style; add `priorityClassName: system-node-critical` by hand"
        );
        assert!(
            set("speaker: [\n", &key)
                .unwrap_err()
                .starts_with("values.yaml does not parse (line ")
        );
    }

    #[test]
    fn the_values_file_of_a_template_and_the_keys_of_an_expression() {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("metallb");
        std::fs::create_dir_all(chart.join("templates/speaker")).unwrap();
        let template = chart.join("templates/speaker/daemonset.yaml");
        assert_eq!(values_file(&template), None, "no values.yaml yet");
        std::fs::write(chart.join("values.yaml"), "").unwrap();
        assert_eq!(values_file(&template), Some(chart.join("values.yaml")));
        assert_eq!(
            values_file(&chart.join("values.yaml")),
            None,
            "not a template"
        );
        assert_eq!(
            values_keys("{{ .Values.speaker_1.priorityClassName }}"),
            Some(vec!["speaker_1".into(), "priorityClassName".into()])
        );
        assert_eq!(values_keys("{{ .Release.Name }}"), None);
        assert_eq!(values_keys("{{ .Values. }}"), None);
    }

    #[test]
    fn appends_fills_or_leaves_alone() {
        assert_eq!(
            set("image: x\n", &["priorityClassName"]).unwrap(),
            "image: x\npriorityClassName: system-node-critical\n"
        );
        assert_eq!(
            set("a: 1", &["x", "y"]).unwrap(),
            "a: 1\nx:\n  y: system-node-critical\n"
        );
        assert_eq!(
            set("priorityClassName: \"\"\r\n", &["priorityClassName"]).unwrap(),
            "priorityClassName: \"system-node-critical\"\r\n"
        );
        assert_eq!(
            set("priorityClassName:\n# c\n", &["priorityClassName"]).unwrap(),
            "priorityClassName: system-node-critical\n# c\n"
        );
        assert!(set("priorityClassName: other\n", &["priorityClassName"]).is_err());
        assert_eq!(
            set(
                "flannel:\n  # its image\n  image: x\n",
                &["flannel", "priorityClassName"]
            )
            .unwrap(),
            "flannel:\n  priorityClassName: system-node-critical\n  # its image\n  image: x\n"
        );
        assert_eq!(
            values_keys("{{ .Values.daemonset.priorityClassName | quote }}"),
            Some(vec!["daemonset".into(), "priorityClassName".into()])
        );
    }
}
