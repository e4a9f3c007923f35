//! priorityguard as a KRM function (the function spec kustomize and kpt run): a `ResourceList`
//! (`config.kubernetes.io/v1`: `items`, `functionConfig`) comes in, and goes out with its
//! critical workloads on their recommended class and a `results` entry for every finding.
//!
//! The list is fixed as text, in place, by `pg_fix` (whose parser hands out the `items` of a
//! root list one by one): comments, formatting and every annotation kustomize and kpt put on
//! the items (`config.kubernetes.io/path`, `.../index`, `config.k8s.io/id`, ...) stay as they
//! were. Results are appended as one flow mapping (JSON) per entry, so no input text is
//! re-serialised. This crate reads and writes the protocol; the CLI only passes stdin in.

use pg_catalog::{Catalog, Policy};
use pg_checks::Config;
use pg_fix::{Change, Source};
use pg_model::{Finding, Severity};
use pg_yaml::NodeDe;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const API_VERSION: &str = "config.kubernetes.io/v1";
pub const KIND: &str = "ResourceList";
/// The kind of a `functionConfig` written for this function (a ConfigMap works too).
pub const CONFIG_KIND: &str = "PriorityGuard";

const PATH_ANNOTATIONS: [&str; 2] = [
    "internal.config.kubernetes.io/path",
    "config.kubernetes.io/path",
];
const INDEX_ANNOTATIONS: [&str; 2] = [
    "internal.config.kubernetes.io/index",
    "config.kubernetes.io/index",
];

/// Why the input was refused; one line each, nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum KrmError {
    #[error("<stdin>:{line}:{col}: not YAML: {message}")]
    Yaml {
        line: usize,
        col: usize,
        message: String,
    },
    #[error("<stdin>: not a ResourceList ({0})")]
    NotResourceList(String),
    #[error("<stdin>: functionConfig: {0}")]
    Config(String),
    /// A fix could not be made or verified (`pg_fix`'s one-line message).
    #[error("{0}")]
    Fix(String),
}

/// What the function does to the items.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Set the recommended class; results say what was changed (info) and what was not.
    #[default]
    Fix,
    /// Change nothing; every finding is a result with its severity (a validator).
    AuditOnly,
}

/// The function's options: the same as `fix --post-render`'s.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub mode: Mode,
    /// This class instead of the recommended one (`fix --class`).
    pub class: Option<String>,
    /// A policy file's content (`--policy`).
    pub policy: Policy,
}

/// One entry of `results`, as the function spec defines it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KrmResult {
    pub message: String,
    pub severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_ref: Option<ResourceRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<Field>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileRef>,
    pub tags: BTreeMap<&'static str, String>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_value: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FileRef {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

impl KrmResult {
    /// `error: deploy/multus.yaml[3]: DaemonSet kube-system/x: message`, for stderr.
    pub fn line(&self) -> String {
        let mut line = format!("{}: ", self.severity);
        if let Some(f) = &self.file {
            line.push_str(&f.path);
            if let Some(i) = f.index {
                line.push_str(&format!("[{i}]"));
            }
            line.push_str(": ");
        }
        if let Some(r) = &self.resource_ref {
            let ns = r
                .namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default();
            line.push_str(&format!("{} {ns}{}: ", r.kind, r.name));
        }
        line.push_str(&self.message);
        line
    }
}

/// The ResourceList to write back, and its results (also in `text`).
#[derive(Debug)]
pub struct Output {
    pub text: String,
    pub results: Vec<KrmResult>,
}

impl Output {
    /// An error result: the function spec says the function then exits non-zero.
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| r.severity == "error")
    }
}

/// Runs the function on a ResourceList's text.
pub fn run(input: String) -> Result<Output, KrmError> {
    let list = read_list(&input)?;
    let options = list.options;
    let mut catalog = Catalog::builtin();
    catalog.extend(&options.policy.components);
    let config = Config::new(false, &options.policy);
    let fix_options = pg_fix::Options {
        class: options.class.clone(),
        ..pg_fix::Options::default()
    };
    let streamed = pg_fix::fix_text(
        Source::stdin(input),
        &catalog,
        &config,
        fix_options,
        options.mode == Mode::Fix,
    )
    .map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        KrmError::Fix(lines.join("; "))
    })?;
    let results: Vec<KrmResult> = streamed
        .findings
        .iter()
        .map(|f| result_for(f, &streamed.changes, &list.items, options.mode))
        .collect();
    Ok(Output {
        text: with_results(&streamed.text, &results),
        results,
    })
}

/// An item of the list: where it is written, and what identifies it.
struct Item {
    first_line: usize,
    last_line: usize,
    meta: ItemMeta,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemMeta {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    metadata: Meta,
}

#[derive(Default, Deserialize)]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    api_version: Option<String>,
    kind: Option<String>,
    function_config: Option<ConfigDoc>,
    results: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigDoc {
    kind: Option<String>,
    /// A ConfigMap's (kpt's `key=value` arguments become one).
    data: Option<BTreeMap<String, String>>,
    /// A `PriorityGuard` object's.
    spec: Option<ConfigSpec>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigSpec {
    #[serde(default)]
    mode: Mode,
    class: Option<String>,
    #[serde(default)]
    policy: Policy,
}

struct List {
    items: Vec<Item>,
    options: Options,
}

fn read_list(text: &str) -> Result<List, KrmError> {
    let mut units: Vec<(Item, Option<Result<Header, String>>)> = Vec::new();
    let mut documents = 0;
    pg_yaml::parse_stream(text, |unit| {
        let node = unit.tree.node(unit.root);
        let de = || NodeDe {
            tree: unit.tree,
            id: unit.root,
            original: None,
        };
        documents = documents.max(unit.document + 1);
        // Every unit could be the list itself, which comes last: keep its header.
        let header = Header::deserialize(de()).map_err(|e| match e.line {
            Some(line) => format!("line {line}: {e}"),
            None => e.to_string(),
        });
        units.push((
            Item {
                first_line: node.start.line,
                last_line: node.end.line,
                meta: ItemMeta::deserialize(de()).unwrap_or_default(),
            },
            Some(header),
        ));
    })
    .map_err(|e| KrmError::Yaml {
        line: e.line,
        col: e.col,
        message: e.message,
    })?;
    if documents != 1 {
        return Err(KrmError::NotResourceList(format!(
            "{documents} YAML documents; a ResourceList is one"
        )));
    }
    let header = units
        .pop()
        .and_then(|(_, h)| h)
        .ok_or_else(|| KrmError::NotResourceList("empty".into()))?
        .map_err(KrmError::Config)?;
    if header.kind.as_deref() != Some(KIND)
        || !header
            .api_version
            .as_deref()
            .is_some_and(|v| v.starts_with("config.kubernetes.io/"))
    {
        return Err(KrmError::NotResourceList(format!(
            "want apiVersion {API_VERSION}, kind {KIND}"
        )));
    }
    if header.results.is_some() {
        return Err(KrmError::NotResourceList(
            "it already has results; priorityguard adds its own to a list without them".into(),
        ));
    }
    if first_content(text).starts_with('{') {
        return Err(KrmError::NotResourceList(
            "flow style (JSON); write it as block YAML, as kustomize and kpt do".into(),
        ));
    }
    let options = match header.function_config {
        None => Options::default(),
        Some(doc) => options_of(doc)?,
    };
    Ok(List {
        items: units.into_iter().map(|(item, _)| item).collect(),
        options,
    })
}

/// The first line that is not blank, a comment, a directive or `---`.
fn first_content(text: &str) -> &str {
    text.lines()
        .map(str::trim_start)
        .find(|l| !(l.is_empty() || l.starts_with('#') || l.starts_with('%') || *l == "---"))
        .unwrap_or("")
}

fn options_of(doc: ConfigDoc) -> Result<Options, KrmError> {
    let bad = |m: String| KrmError::Config(m);
    match doc.kind.as_deref() {
        Some("ConfigMap") => {
            let mut options = Options::default();
            for (key, value) in doc.data.unwrap_or_default() {
                match key.as_str() {
                    "mode" => {
                        options.mode = match value.as_str() {
                            "fix" => Mode::Fix,
                            "audit-only" => Mode::AuditOnly,
                            _ => {
                                return Err(bad(format!(
                                    "data.mode: {value:?}: want fix or audit-only"
                                )));
                            }
                        }
                    }
                    "class" => options.class = Some(value),
                    "policy" => {
                        options.policy = pg_yaml::from_str(&value)
                            .map_err(|e| bad(format!("data.policy: {e}")))?
                    }
                    _ => {
                        return Err(bad(format!(
                            "data.{key}: unknown key (mode, class, policy)"
                        )));
                    }
                }
            }
            Ok(options)
        }
        Some(CONFIG_KIND) => {
            let spec = doc.spec.unwrap_or_default();
            Ok(Options {
                mode: spec.mode,
                class: spec.class,
                policy: spec.policy,
            })
        }
        other => Err(bad(format!(
            "kind {}: want {CONFIG_KIND} or ConfigMap",
            other.unwrap_or("(none)")
        ))),
    }
}

fn result_for(f: &Finding, changes: &[Change], items: &[Item], mode: Mode) -> KrmResult {
    let item = f.location.as_ref().and_then(|l| {
        let line = l.line as usize;
        items
            .iter()
            .find(|i| i.first_line <= line && line <= i.last_line)
    });
    let change = changes
        .iter()
        .find(|c| c.reported_as == f.object && c.checks.contains(&f.check));
    let severity = match (mode, change) {
        (Mode::Fix, Some(_)) => "info",
        _ => match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        },
    };
    let message = match (mode, change) {
        (Mode::Fix, Some(c)) => format!("{} (fixed: {})", f.message, what(c)),
        (Mode::AuditOnly, Some(c)) => format!("{} (needs: {})", f.message, what(c)),
        _ => f.message.clone(),
    };
    let resource_ref = match item.filter(|i| i.meta.kind.is_some()) {
        Some(i) => ResourceRef {
            api_version: i.meta.api_version.clone(),
            kind: i.meta.kind.clone().unwrap_or_default(),
            name: i.meta.metadata.name.clone().unwrap_or_default(),
            namespace: i.meta.metadata.namespace.clone(),
        },
        None => ResourceRef {
            api_version: None,
            kind: f.object.kind.clone(),
            name: f.object.name.clone(),
            namespace: f.object.namespace.clone(),
        },
    };
    let file = item.and_then(|i| {
        let annotation = |keys: [&str; 2]| {
            keys.iter()
                .find_map(|k| i.meta.metadata.annotations.get(*k))
        };
        annotation(PATH_ANNOTATIONS).map(|path| FileRef {
            path: path.clone(),
            index: annotation(INDEX_ANNOTATIONS).and_then(|i| i.parse().ok()),
        })
    });
    KrmResult {
        message,
        severity,
        resource_ref: Some(resource_ref),
        field: change.map(|c| field(c, f)),
        file,
        tags: BTreeMap::from([("check", f.check.as_str().to_string())]),
    }
}

fn what(c: &Change) -> String {
    let mut parts = Vec::new();
    if let Some(class) = &c.class {
        parts.push(format!("priorityClassName {class}"));
    }
    if c.remove_priority {
        parts.push("no spec.priority".to_string());
    }
    parts.join(", ")
}

fn field(c: &Change, f: &Finding) -> Field {
    let spec = pg_sources::raw::pod_spec_path(c.kind).join(".");
    match &c.class {
        Some(class) => Field {
            path: format!("{spec}.priorityClassName"),
            current_value: f.current_class.clone(),
            proposed_value: Some(class.clone()),
        },
        None => Field {
            path: format!("{spec}.priority"),
            current_value: None,
            proposed_value: None,
        },
    }
}

/// `text` with a `results:` key appended to its root mapping (before a closing `...`).
fn with_results(text: &str, results: &[KrmResult]) -> String {
    if results.is_empty() {
        return text.to_string();
    }
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut block = format!("results:{eol}");
    for r in results {
        let json = serde_json::to_string(r).expect("results serialise");
        block.push_str(&format!("- {json}{eol}"));
    }
    let body_end = text.trim_end().len();
    let (body, tail) = match text[..body_end].rsplit_once('\n') {
        Some((before, last)) if last.trim() == "..." => text.split_at(before.len() + 1),
        _ => (text, ""),
    };
    let mut out = body.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    out.push_str(&block);
    out.push_str(tail);
    out
}
