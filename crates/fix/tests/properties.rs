//! Property tests over generated manifests: every combination of indentation (2, 3 or 4
//! spaces), compact and indented sequences, comments, CRLF, a missing final newline, flow
//! style, several documents, and Jinja2 or Helm statements and expressions.
//!
//! Each document is a node agent (a Multus DaemonSet), a cluster service (a CoreDNS
//! Deployment) or an ordinary workload (a Deployment, StatefulSet, ReplicaSet, Job or
//! DaemonSet of a shop's web app).
//!
//! For each: the fix parses and re-audits clean, only `priorityClassName` / `priority` lines
//! change (block style: only whole lines are added or removed), each document ends with the
//! class its role needs (node agent `system-node-critical`, cluster service
//! `system-cluster-critical`, an ordinary workload none), and fixing again changes nothing.
//! Failing cases are shrunk and saved in `properties.proptest-regressions` (commit it), and
//! replayed first on every run.

mod common;
use common::*;
use pg_fix::Options;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Plain,
    Jinja,
    Helm,
}

#[derive(Clone, Copy, Debug)]
enum Class {
    Missing,
    /// Too weak for a node agent, in one of three quoting styles.
    Weak(u8),
    Right,
}

#[derive(Clone, Copy, Debug)]
enum Style {
    Block,
    /// `spec: {...}` on one line.
    FlowLine,
    /// `spec: {` ... `}` over several lines.
    FlowLines,
}

/// What the document is, and so which class the fix must leave it with.
#[derive(Clone, Copy, Debug)]
enum Workload {
    /// Multus, a node agent: `system-node-critical`.
    NodeAgent,
    /// CoreDNS in kube-system, a cluster service: `system-cluster-critical`.
    ClusterService,
    /// A shop's web app of this kind: no class, before and after.
    Ordinary(&'static str),
}

impl Workload {
    fn kind(self) -> &'static str {
        match self {
            Workload::NodeAgent => "DaemonSet",
            Workload::ClusterService => "Deployment",
            Workload::Ordinary(kind) => kind,
        }
    }

    /// (name prefix, namespace, label, container, image)
    fn identity(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        match self {
            Workload::NodeAgent => (
                "kube-multus-ds",
                "kube-system",
                "app: multus",
                "kube-multus",
                IMAGE,
            ),
            Workload::ClusterService => (
                "coredns",
                "kube-system",
                "k8s-app: kube-dns",
                "coredns",
                "registry.k8s.io/coredns/coredns:v1.12.0",
            ),
            Workload::Ordinary(_) => (
                "web",
                "shop",
                "app: web",
                "web",
                "registry.invalid/nginx:1.27",
            ),
        }
    }

    /// The class the document must have once fixed.
    fn fixed_class(self) -> Option<&'static str> {
        match self {
            Workload::NodeAgent => Some("system-node-critical"),
            Workload::ClusterService => Some("system-cluster-critical"),
            Workload::Ordinary(_) => None,
        }
    }
}

#[derive(Clone, Debug)]
struct Doc {
    workload: Workload,
    style: Style,
    /// Which of the one-line scalar keys the spec starts with, in this order.
    scalars: Vec<usize>,
    /// A comment line above each scalar key.
    comments: Vec<bool>,
    /// The first scalar key sits inside a template conditional.
    conditional_first: bool,
    /// A scalar's value is a template expression.
    expression_value: bool,
    class: Class,
    priority: bool,
    tolerations: bool,
}

#[derive(Clone, Debug)]
struct Case {
    dialect: Dialect,
    indent: usize,
    compact: bool,
    crlf: bool,
    final_newline: bool,
    leading_comment: bool,
    docs: Vec<Doc>,
}

const SCALARS: [(&str, &str); 4] = [
    ("hostNetwork", "true"),
    ("dnsPolicy", "ClusterFirstWithHostNet"),
    ("serviceAccountName", "\"multus\""),
    ("terminationGracePeriodSeconds", "10"),
];

fn workload() -> impl Strategy<Value = Workload> {
    prop_oneof![
        2 => Just(Workload::NodeAgent),
        1 => Just(Workload::ClusterService),
        1 => proptest::sample::select(vec![
            "Deployment",
            "StatefulSet",
            "ReplicaSet",
            "Job",
            "DaemonSet",
        ])
        .prop_map(Workload::Ordinary),
    ]
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        workload(),
        prop_oneof![
            Just(Style::Block),
            Just(Style::FlowLine),
            Just(Style::FlowLines)
        ],
        proptest::sample::subsequence(vec![0usize, 1, 2, 3], 0..=4),
        proptest::collection::vec(any::<bool>(), 4),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(Class::Missing),
            (0u8..3).prop_map(Class::Weak),
            Just(Class::Right)
        ],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                workload,
                style,
                scalars,
                comments,
                conditional_first,
                expression_value,
                class,
                priority,
                tolerations,
            )| Doc {
                workload,
                style,
                scalars,
                comments,
                conditional_first,
                expression_value,
                class,
                priority,
                tolerations,
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![
            Just(Dialect::Plain),
            Just(Dialect::Jinja),
            Just(Dialect::Helm)
        ],
        2usize..=4,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(doc(), 1..=3),
    )
        .prop_map(
            |(dialect, indent, compact, crlf, final_newline, leading_comment, docs)| Case {
                dialect,
                indent,
                compact,
                crlf,
                final_newline,
                leading_comment,
                docs,
            },
        )
}

const IMAGE: &str = "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0";

/// The class a document starts with: a node agent's may be missing, too weak or right; a
/// cluster service's missing or right; an ordinary workload has none.
fn class_value(workload: Workload, class: Class) -> Option<String> {
    match (workload, class) {
        (Workload::Ordinary(_), _) | (_, Class::Missing) => None,
        // Too weak for a node agent, right for a cluster service; in three quoting styles.
        (_, Class::Weak(0)) => Some("system-cluster-critical".into()),
        (_, Class::Weak(1)) => Some("'system-cluster-critical'".into()),
        (_, Class::Weak(_)) => Some("\"system-cluster-critical\"".into()),
        (Workload::ClusterService, Class::Right) => Some("system-cluster-critical".into()),
        (Workload::NodeAgent, Class::Right) => Some("system-node-critical".into()),
    }
}

fn expression(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Helm => "{{ .Values.dnsPolicy }}",
        _ => "{{ multus_dns_policy }}",
    }
}

fn render_spec(c: &Case, d: &Doc, out: &mut String) {
    let (_, _, _, container, image) = d.workload.identity();
    let u = " ".repeat(c.indent);
    let p = u.repeat(3);
    let templated = c.dialect != Dialect::Plain;
    let value = |k: usize, i: usize| {
        if templated && d.expression_value && i == 0 {
            expression(c.dialect).to_string()
        } else {
            SCALARS[k].1.to_string()
        }
    };
    if !matches!(d.style, Style::Block) {
        let mut entries: Vec<String> = d
            .scalars
            .iter()
            .enumerate()
            .map(|(i, &k)| format!("{}: {}", SCALARS[k].0, value(k, i)))
            .collect();
        if let Some(v) = class_value(d.workload, d.class) {
            entries.push(format!("priorityClassName: {v}"));
        }
        if d.priority {
            entries.push("priority: 1000".into());
        }
        entries.push(format!(
            "containers: [{{name: {container}, image: {image}}}]"
        ));
        match d.style {
            Style::FlowLine => out.push_str(&format!("{u}{u}spec: {{{}}}\n", entries.join(", "))),
            _ => {
                out.push_str(&format!("{u}{u}spec: {{\n"));
                out.push_str(&format!("{p}{}\n", entries.join(&format!(",\n{p}"))));
                out.push_str(&format!("{p}}}\n"));
            }
        }
        return;
    }
    out.push_str(&format!("{u}{u}spec:\n"));
    for (i, &k) in d.scalars.iter().enumerate() {
        let conditional = templated && d.conditional_first && i == 0;
        if conditional {
            out.push_str(match c.dialect {
                Dialect::Helm => "{{- if .Values.extra }}\n",
                _ => "{% if multus_extra %}\n",
            });
        }
        if d.comments[k] {
            out.push_str(&format!("{p}# about {}\n", SCALARS[k].0));
        }
        out.push_str(&format!("{p}{}: {}\n", SCALARS[k].0, value(k, i)));
        if conditional {
            out.push_str(match c.dialect {
                Dialect::Helm => "{{- end }}\n",
                _ => "{% endif %}\n",
            });
        }
    }
    if let Some(v) = class_value(d.workload, d.class) {
        out.push_str(&format!("{p}priorityClassName: {v}  # chosen by hand\n"));
    }
    if d.priority {
        out.push_str(&format!("{p}priority: 1000\n"));
    }
    let item = if c.compact {
        p.clone()
    } else {
        format!("{p}{u}")
    };
    if d.tolerations {
        out.push_str(&format!("{p}tolerations:\n{item}- operator: Exists\n\n"));
    }
    out.push_str(&format!(
        "{p}containers:\n{item}- name: {container}\n{item}  image: {image}\n"
    ));
}

fn render(c: &Case) -> String {
    let u = " ".repeat(c.indent);
    let mut out = String::new();
    if c.leading_comment {
        out.push_str("# Multus, as shipped\n---\n");
    }
    for (i, d) in c.docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let kind = d.workload.kind();
        let (name, namespace, label, _, _) = d.workload.identity();
        let api = if kind == "Job" { "batch/v1" } else { "apps/v1" };
        out.push_str(&format!("apiVersion: {api}\nkind: {kind}\nmetadata:\n"));
        out.push_str(&format!("{u}name: {name}-{i}\n{u}namespace: {namespace}\n"));
        out.push_str(&format!(
            "spec:\n{u}selector:\n{u}{u}matchLabels:\n{u}{u}{u}{label}\n"
        ));
        out.push_str(&format!(
            "{u}template:\n{u}{u}metadata:\n{u}{u}{u}labels:\n{u}{u}{u}{u}{label}\n"
        ));
        render_spec(c, d, &mut out);
    }
    if !c.final_newline {
        out.pop();
    }
    if c.crlf {
        out = out.replace('\n', "\r\n");
    }
    out
}

/// Writes the manifest where its dialect is recognised; returns the file.
fn lay_out(root: &Path, c: &Case, text: &str) -> PathBuf {
    let file = match c.dialect {
        Dialect::Plain => root.join("multus.yaml"),
        Dialect::Jinja => root.join("roles/multus/templates/multus.yml.j2"),
        Dialect::Helm => {
            std::fs::create_dir_all(root.join("chart/templates")).unwrap();
            std::fs::write(
                root.join("chart/Chart.yaml"),
                "name: multus\nversion: 1.0.0\n",
            )
            .unwrap();
            root.join("chart/templates/multus.yaml")
        }
    };
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, text).unwrap();
    file
}

/// The fixed text of `file` (the input itself when nothing changes).
fn fixed(file: &Path) -> String {
    let outcome = fix(&[file.to_path_buf()], Options::default());
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.notes.is_empty(), "{:?}", outcome.notes);
    match outcome.files.as_slice() {
        [] => std::fs::read_to_string(file).unwrap(),
        [one] => one.after.clone(),
        more => panic!("{} files changed", more.len()),
    }
}

/// The text with every `priorityClassName` and `priority` entry taken out: whole lines in
/// block style and multi-line flow style, `key: value, ` inside one-line flow mappings.
fn without_priority(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("priorityClassName:") || t.starts_with("priority:"))
        })
        .map(|l| {
            let mut l = l.to_string();
            for key in ["priorityClassName: ", "priority: "] {
                while let Some(at) = l.find(key) {
                    let end = at + l[at..].find(", ").expect("never the last entry") + 2;
                    l.replace_range(at..end, "");
                }
            }
            l
        })
        .collect()
}

/// The `priorityClassName` of each workload document in `text`, unquoted.
fn classes(text: &str) -> Vec<Option<&str>> {
    text.split("\n---")
        .filter(|d| d.contains("kind:"))
        .map(|d| {
            let (_, rest) = d.split_once("priorityClassName:")?;
            let value = rest.trim_start();
            let end = value
                .find([',', '}', ' ', '#', '\r', '\n'])
                .unwrap_or(value.len());
            Some(value[..end].trim_matches(['\'', '"']))
        })
        .collect()
}

fn check(c: &Case) {
    let dir = tempfile::tempdir().unwrap();
    let before = render(c);
    let file = lay_out(dir.path(), c, &before);
    let once = fixed(&file);

    let all_block = c.docs.iter().all(|d| matches!(d.style, Style::Block));
    let diff = similar::TextDiff::from_lines(&before, &once);
    for change in diff.iter_all_changes() {
        let line = change.value();
        match change.tag() {
            similar::ChangeTag::Equal => {}
            similar::ChangeTag::Insert if all_block => {
                let key = line.trim_start();
                assert!(key.starts_with("priorityClassName: "), "added {line:?}");
                let eol = if c.crlf { "\r\n" } else { "\n" };
                assert!(line.ends_with(eol) || !once.ends_with(eol), "{line:?}");
            }
            similar::ChangeTag::Delete if all_block => {
                let key = line.trim_start();
                assert!(
                    key.starts_with("priorityClassName: ") || key.starts_with("priority: "),
                    "removed {line:?}"
                );
            }
            _ => {}
        }
    }
    assert_eq!(without_priority(&before), without_priority(&once));
    let wanted: Vec<Option<&str>> = c.docs.iter().map(|d| d.workload.fixed_class()).collect();
    assert_eq!(
        classes(&once),
        wanted,
        "each document's class once fixed:\n{once}"
    );
    assert_eq!(
        once.ends_with('\n'),
        before.ends_with('\n'),
        "final newline"
    );
    assert_eq!(once.contains("\r\n"), c.crlf, "line breaks");

    std::fs::write(&file, &once).unwrap();
    let left: Vec<_> = audit(std::slice::from_ref(&file))
        .into_iter()
        .filter(|f| pg_checks::is_fixable(f.check))
        .collect();
    assert!(left.is_empty(), "{once}\n{left:#?}");
    assert_eq!(fixed(&file), once, "fixing twice changed more");
}

proptest! {
    // Failing cases are shrunk, printed and saved next to this file
    // (properties.proptest-regressions), so every later run tries them first.
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions")
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn fixes_touch_only_their_line_and_are_idempotent(c in case()) {
        check(&c);
    }
}

/// A few cases worth keeping whatever proptest draws.
#[test]
fn chosen_cases() {
    let block = Doc {
        workload: Workload::NodeAgent,
        style: Style::Block,
        scalars: vec![0, 1],
        comments: vec![true, false, false, false],
        conditional_first: true,
        expression_value: true,
        class: Class::Missing,
        priority: true,
        tolerations: true,
    };
    for dialect in [Dialect::Plain, Dialect::Jinja, Dialect::Helm] {
        for style in [Style::Block, Style::FlowLine, Style::FlowLines] {
            check(&Case {
                dialect,
                indent: 3,
                compact: true,
                crlf: true,
                final_newline: false,
                leading_comment: true,
                docs: vec![
                    Doc {
                        style,
                        ..block.clone()
                    },
                    Doc {
                        class: Class::Weak(1),
                        scalars: vec![],
                        ..block.clone()
                    },
                    Doc {
                        workload: Workload::ClusterService,
                        style,
                        ..block.clone()
                    },
                    Doc {
                        workload: Workload::Ordinary("StatefulSet"),
                        style,
                        ..block.clone()
                    },
                ],
            });
        }
    }
}
