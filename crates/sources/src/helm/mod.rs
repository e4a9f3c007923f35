//! Helm charts as chart repositories hold them, read without rendering.
//!
//! A chart's templates are read with the chart's values (its `values.yaml`, a parent chart's
//! overrides for a subchart under `charts/`, and `--values` files, merged as `helm template -f`
//! merges them). `if`, `with` and `range` blocks whose condition the values decide are kept or
//! set aside as Helm would render them (an unknown condition keeps its first branch); `define`
//! bodies are set aside; pipelines that make YAML (`toYaml`, `include ... | nindent`) are set
//! aside like lines holding only an expression; the other expressions become placeholders of the
//! same length, as in [`crate::template`]. What the values say an expression prints is kept,
//! with the file and line it came from, so that images and classes can be read through it.

mod action;
mod eval;
pub mod values;

use crate::template::{Expressions, blank, set_aside_expression_lines};
use action::Kind;
use eval::{Dot, Scope};
use pg_model::{ClassRef, InputProblem, Location, Workload};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
pub use values::{Val, Value};

/// A chart with its values merged.
#[derive(Clone, Debug)]
pub struct Chart {
    pub root: PathBuf,
    /// `None`: the values are not known (every condition on them is unknown).
    values: Option<Val>,
    /// `.Chart`: Name, Version, AppVersion.
    meta: Val,
    /// False when the parent chart's `condition:` for this subchart is false.
    enabled: bool,
    /// The named templates of the chart's (and its parents') helpers files, by name.
    helpers: HashMap<String, String>,
}

/// The directory of the chart a template belongs to: the nearest `templates/` ancestor whose
/// parent has a `Chart.yaml` or `values.yaml`.
pub fn chart_root(template: &Path) -> Option<PathBuf> {
    template
        .ancestors()
        .skip(1)
        .filter(|d| d.file_name().is_some_and(|n| n == "templates"))
        .filter_map(Path::parent)
        .find(|root| root.join("values.yaml").is_file() || root.join("Chart.yaml").is_file())
        .map(Path::to_path_buf)
}

impl Chart {
    /// The chart of a template, without its values (every condition on them is unknown).
    pub fn unknown(template: &Path) -> Chart {
        Chart {
            root: chart_root(template).unwrap_or_default(),
            values: None,
            meta: Val::empty_map(),
            enabled: true,
            helpers: HashMap::new(),
        }
    }

    /// The chart of a template file, its values merged with `overrides` (`--values` files,
    /// which apply to the top-level chart).
    pub fn of_template(template: &Path, overrides: &[PathBuf]) -> Result<Chart, InputProblem> {
        let root = chart_root(template).unwrap_or_else(|| template.to_path_buf());
        let (values, meta, enabled) = load(&root, overrides).map_err(|e| InputProblem {
            source: e.source,
            message: e.message,
            skipped: false,
        })?;
        let mut helpers = HashMap::new();
        let mut chart = Some(root.as_path());
        while let Some(dir) = chart {
            for file in helpers_files(&dir.join("templates")) {
                if let Ok(text) = std::fs::read_to_string(&file) {
                    for (name, body) in defines(&text) {
                        helpers.entry(name).or_insert(body);
                    }
                }
            }
            chart = parent_chart(dir);
        }
        Ok(Chart {
            root,
            values: Some(values),
            meta,
            enabled,
            helpers,
        })
    }

    /// Names of the named templates the chart's templates `include` (or `template`).
    fn included(&self) -> HashSet<String> {
        let mut names = HashSet::new();
        let mut dirs = vec![self.root.join("templates")];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for path in entries.filter_map(|e| Some(e.ok()?.path())) {
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                for a in action::actions(&text) {
                    if let Kind::Output(pipeline) = a.kind {
                        for call in ["include ", "template "] {
                            for (at, _) in pipeline.match_indices(call) {
                                names.insert(action::template_name(&pipeline[at + call.len()..]));
                            }
                        }
                    }
                }
            }
        }
        names
    }
}

/// The chart a subchart under `charts/` belongs to.
fn parent_chart(root: &Path) -> Option<&Path> {
    root.parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "charts"))
        .and_then(Path::parent)
        .filter(|p| p.join("Chart.yaml").is_file())
}

/// `_*.tpl` files under `dir`, in a stable order.
fn helpers_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for path in entries.filter_map(|e| Some(e.ok()?.path())) {
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('_') && n.ends_with(".tpl"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The named templates of a file: name and body, with the `define` tag's `-}}` and the `end`
/// tag's `{{-` trimming applied.
pub(crate) fn defines(source: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    let mut open: Vec<Option<(usize, String)>> = Vec::new();
    for a in action::actions(source) {
        match &a.kind {
            Kind::Define { name, .. } => open.push(Some((a.range.end, name.clone()))),
            Kind::If(_) | Kind::With(_) | Kind::Range(_) => open.push(None),
            Kind::End => {
                if let Some(Some((start, name))) = open.pop() {
                    let mut body = &source[start..a.range.start];
                    if source[..start].ends_with(" -}}") || source[..start].ends_with("\n-}}") {
                        body = body.trim_start();
                    }
                    if source[a.range.start..].starts_with("{{- ") {
                        body = body.trim_end();
                    }
                    found.entry(name).or_insert_with(|| body.to_string());
                }
            }
            _ => {}
        }
    }
    found
}

/// A chart's `templates/**/_*.tpl`: named templates, some of which are whole objects that
/// the chart's templates include (`{{ include "node" . }}`).
pub fn is_helpers_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('_') && n.ends_with(".tpl"))
        && chart_root(path).is_some()
}

fn read_optional(path: &Path) -> Result<Val, values::ValuesError> {
    if path.is_file() {
        values::read(path)
    } else {
        Ok(Val::empty_map())
    }
}

/// Values, `.Chart` and whether the chart is rendered at all.
fn load(root: &Path, overrides: &[PathBuf]) -> Result<(Val, Val, bool), values::ValuesError> {
    let chart_yaml = read_optional(&root.join("Chart.yaml"))?;
    let mut meta = Val::empty_map();
    for (key, field) in [
        ("name", "Name"),
        ("version", "Version"),
        ("appVersion", "AppVersion"),
    ] {
        if let (Some(v), Value::Map(m)) = (chart_yaml.get(key), &mut meta.value) {
            m.push((field.to_string(), v.clone()));
        }
    }
    let mut values = read_optional(&root.join("values.yaml"))?;
    let Some(parent) = parent_chart(root) else {
        for file in overrides {
            values.merge(&values::read(file)?);
        }
        return Ok((values, meta, true));
    };
    let (parent_values, _, parent_enabled) = load(parent, overrides)?;
    let name = chart_yaml
        .get("name")
        .and_then(Val::text)
        .or_else(|| Some(root.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let dependency = read_optional(&parent.join("Chart.yaml"))?
        .get("dependencies")
        .and_then(|d| match &d.value {
            Value::List(items) => items
                .iter()
                .find(|i| i.get("name").and_then(Val::text).as_deref() == Some(&name))
                .cloned(),
            _ => None,
        });
    let key = dependency
        .as_ref()
        .and_then(|d| d.get("alias"))
        .and_then(Val::text)
        .unwrap_or(name);
    if let Some(over) = parent_values.get(&key) {
        values.merge(over);
    }
    if let Some(global) = parent_values.get("global") {
        let mut merged = values.get("global").cloned().unwrap_or_else(Val::empty_map);
        merged.merge(global);
        values.merge(&Val::new(Value::Map(vec![("global".into(), merged)])));
    }
    // `condition: a.enabled,b.enabled`: the first path that is set decides.
    let condition = dependency
        .as_ref()
        .and_then(|d| d.get("condition"))
        .and_then(Val::text)
        .unwrap_or_default();
    let enabled = condition
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .find_map(|path| {
            let mut v = &parent_values;
            for k in path.split('.') {
                v = v.get(k)?;
            }
            match v.value {
                Value::Bool(b) => Some(b),
                _ => None,
            }
        })
        .unwrap_or(true);
    Ok((values, meta, parent_enabled && enabled))
}

/// A template read with its chart's values.
pub struct Rendered {
    pub text: String,
    pub expressions: Expressions,
    pub facts: Facts,
}

/// What the values say about a template, kept for the audit and for fixes.
#[derive(Debug, Default)]
pub struct Facts {
    /// What each expression prints, by line, where the values decide it.
    printed: Vec<Printed>,
    /// Every `priorityClassName` key the template writes, rendered or not.
    pub classes: Vec<ClassSource>,
}

#[derive(Debug)]
struct Printed {
    line: usize,
    tag: String,
    value: Option<Val>,
}

/// A `priorityClassName` key whose value the chart's values decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassSource {
    /// 1-based line of the key in the template.
    pub line: usize,
    /// The values keys it prints or is guarded by (`speaker.priorityClassName`).
    pub keys: Vec<String>,
    /// The values file that sets those keys now, if one does.
    pub set_in: Option<PathBuf>,
}

struct Frame {
    parent_live: bool,
    /// A branch has been chosen (an unknown condition chooses its first branch).
    taken: bool,
    saved_dot: Dot,
    saved_path: Option<Vec<String>>,
}

/// Reads a template of `chart`; see the module docs. In a helpers file only the named
/// templates that are whole objects and that the chart includes are read (with the top-level
/// context as `.`); the rest is set aside.
pub fn preprocess(source: &str, chart: &Chart, helpers: bool) -> Rendered {
    let scope_values = chart.values.clone();
    let actions = action::actions(source);
    let objects = if helpers {
        let included = chart.included();
        object_defines(source, &actions)
            .into_iter()
            .filter(|(_, name)| included.contains(name))
            .map(|(at, _)| at)
            .collect()
    } else {
        HashSet::new()
    };
    let mut walk = Walk {
        source,
        bytes: source.as_bytes().to_vec(),
        chart,
        scope_values,
        stack: Vec::new(),
        live: chart.enabled && !helpers,
        objects,
        dot: Dot::Root,
        dot_path: None,
        kept: Vec::new(),
        facts: Facts::default(),
        line_starts: std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', source.as_bytes()).map(|i| i + 1))
            .collect(),
    };
    let mut cursor = 0;
    for a in actions {
        walk.text(cursor..a.range.start);
        walk.action(a.range.clone(), a.kind);
        cursor = a.range.end;
    }
    walk.text(cursor..source.len());
    let Walk {
        mut bytes,
        kept,
        facts,
        ..
    } = walk;
    let kept = set_aside_expression_lines(&mut bytes, kept);
    let text = String::from_utf8(bytes).expect("only whole tags and lines were replaced");
    let expressions = Expressions::new(source, &text, kept);
    Rendered {
        text,
        expressions,
        facts,
    }
}

struct Walk<'a> {
    source: &'a str,
    bytes: Vec<u8>,
    chart: &'a Chart,
    scope_values: Option<Val>,
    stack: Vec<Frame>,
    live: bool,
    dot: Dot,
    /// The values path `.` stands for, when it is one.
    dot_path: Option<Vec<String>>,
    /// Where the named templates that stand for whole objects start (helpers files).
    objects: HashSet<usize>,
    /// Expressions that print into the YAML.
    kept: Vec<Range<usize>>,
    facts: Facts,
    line_starts: Vec<usize>,
}

impl Walk<'_> {
    fn line_of(&self, at: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= at)
    }

    fn eval(&self, pipeline: &str) -> Option<Val> {
        if !self.live {
            return None;
        }
        let values = self.scope_values.as_ref()?;
        eval::eval(
            pipeline,
            &self.dot,
            &Scope {
                values,
                chart: &self.chart.meta,
                helpers: &self.chart.helpers,
            },
        )
    }

    fn text(&mut self, range: Range<usize>) {
        if !self.live {
            blank(&mut self.bytes[range.clone()]);
        }
        let text = &self.source[range.clone()];
        for (offset, _) in text.match_indices("priorityClassName:") {
            let at = range.start + offset;
            let line_start = self.line_starts[self.line_of(at) - 1];
            if !self.source[line_start..at].trim().is_empty() {
                continue;
            }
            let line_end = memchr::memchr(b'\n', &self.source.as_bytes()[at..])
                .map_or(self.source.len(), |p| at + p);
            let value = &self.source[at + "priorityClassName:".len()..line_end];
            let Some(tag) = action::actions(value).into_iter().next() else {
                continue;
            };
            let Kind::Output(pipeline) = tag.kind else {
                continue;
            };
            if let Some(keys) = eval::values_path(&pipeline, self.dot_path.as_deref()) {
                let set_in = keys
                    .iter()
                    .try_fold(self.scope_values.as_ref(), |v, k| Some(v?.get(k)))
                    .flatten()
                    .and_then(|v| v.from.as_ref())
                    .map(|at| PathBuf::from(&*at.file));
                self.facts.classes.push(ClassSource {
                    line: self.line_of(at),
                    keys,
                    set_in,
                });
            }
        }
    }

    fn enter(&mut self, live: bool, taken: bool) {
        self.stack.push(Frame {
            parent_live: self.live,
            taken,
            saved_dot: self.dot.clone(),
            saved_path: self.dot_path.clone(),
        });
        self.live = live;
    }

    fn action(&mut self, range: Range<usize>, kind: Kind) {
        let mut print = None;
        match kind {
            Kind::If(cond) => {
                let t = self.eval(&cond).map(|v| v.truthy());
                self.enter(self.live && t != Some(false), t != Some(false));
            }
            Kind::With(expr) => {
                let v = self.eval(&expr);
                let t = v.as_ref().map(Val::truthy);
                let path = eval::values_path(&expr, self.dot_path.as_deref());
                self.enter(self.live && t != Some(false), t != Some(false));
                self.dot = v.map_or(Dot::Unknown, Dot::Val);
                self.dot_path = path;
            }
            Kind::Range(expr) => {
                let v = self.eval(&expr);
                let first = v.as_ref().and_then(|v| match &v.value {
                    Value::List(items) => items.first().cloned(),
                    Value::Map(entries) => entries.first().map(|(_, v)| v.clone()),
                    _ => None,
                });
                let t = v.as_ref().map(Val::truthy);
                self.enter(self.live && t != Some(false), t != Some(false));
                self.dot = first.map_or(Dot::Unknown, Dot::Val);
                self.dot_path = None;
            }
            Kind::Define { prints, .. } => {
                if self.objects.contains(&range.start) {
                    self.enter(self.chart.enabled, true);
                    self.dot = Dot::Root;
                    self.dot_path = None;
                } else {
                    self.enter(prints && self.live, true);
                }
            }
            Kind::ElseIf(cond) | Kind::ElseWith(cond) => {
                self.restore_dot();
                if let Some(f) = self.stack.last() {
                    let (parent_live, taken) = (f.parent_live, f.taken);
                    self.live = parent_live;
                    let t = if taken {
                        Some(false)
                    } else {
                        self.eval(&cond).map(|v| v.truthy())
                    };
                    self.live = parent_live && t != Some(false);
                    if let Some(f) = self.stack.last_mut() {
                        f.taken |= t != Some(false);
                    }
                }
            }
            Kind::Else => {
                self.restore_dot();
                if let Some(f) = self.stack.last_mut() {
                    self.live = f.parent_live && !f.taken;
                    f.taken = true;
                }
            }
            Kind::End => {
                if let Some(f) = self.stack.pop() {
                    self.live = f.parent_live;
                    self.dot = f.saved_dot;
                    self.dot_path = f.saved_path;
                }
            }
            Kind::Silent => {}
            Kind::Output(pipeline) => {
                if self.live && !makes_yaml(&pipeline) {
                    print = Some(pipeline);
                }
            }
        }
        match print {
            Some(pipeline) => {
                let value = self.eval(&pipeline);
                self.facts.printed.push(Printed {
                    line: self.line_of(range.start),
                    tag: self.source[range.clone()].to_string(),
                    value,
                });
                self.kept.push(range);
            }
            None => blank(&mut self.bytes[range]),
        }
    }

    fn restore_dot(&mut self) {
        if let Some(f) = self.stack.last() {
            self.dot = f.saved_dot.clone();
            self.dot_path = f.saved_path.clone();
        }
    }
}

/// The `define`s whose body is a Kubernetes object (a `kind:` key at the start of a line), by
/// where they start, with their names.
fn object_defines(source: &str, actions: &[action::Action]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut open: Vec<Option<(usize, usize, String)>> = Vec::new();
    for a in actions {
        match &a.kind {
            Kind::Define { name, .. } => {
                open.push(Some((a.range.start, a.range.end, name.clone())));
            }
            Kind::If(_) | Kind::With(_) | Kind::Range(_) => open.push(None),
            Kind::End => {
                if let Some(Some((start, body, name))) = open.pop() {
                    let text = &source[body..a.range.start];
                    if text.lines().any(|l| l.starts_with("kind:")) {
                        found.push((start, name));
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// Pipelines whose output is YAML of unknown shape rather than a scalar.
fn makes_yaml(pipeline: &str) -> bool {
    pipeline
        .split(|c: char| c.is_whitespace() || c == '(' || c == '|')
        .any(|w| matches!(w, "toYaml" | "nindent" | "indent" | "toPrettyJson"))
}

impl Facts {
    /// `text` (a scalar as the template writes it, on `line` when known) with each expression
    /// replaced by what the values make it print, and the place the first value came from;
    /// `None` unless the values decide every expression in it.
    pub fn render(&self, text: &str, line: Option<usize>) -> Option<(String, Option<Location>)> {
        let mut out = String::new();
        let mut from = None;
        let mut at = 0;
        let tags = action::actions(text);
        if tags.is_empty() {
            return None;
        }
        for tag in tags {
            out.push_str(&text[at..tag.range.start]);
            let tag_text = &text[tag.range.clone()];
            let value = self.printed_value(tag_text, line)?;
            from = from.or_else(|| value.from.clone());
            out.push_str(&value.text()?);
            at = tag.range.end;
        }
        out.push_str(&text[at..]);
        Some((out, from))
    }

    /// What `tag` prints: on `line` when given, else wherever the template writes it, as long
    /// as it prints the same everywhere.
    fn printed_value(&self, tag: &str, line: Option<usize>) -> Option<&Val> {
        let mut found = self
            .printed
            .iter()
            .filter(|p| p.tag == tag && line.is_none_or(|l| p.line == l));
        let first = found.next()?.value.as_ref()?;
        found
            .all(|p| p.value.as_ref() == Some(first))
            .then_some(first)
    }

    /// Reads images and a templated class through the values.
    pub fn resolve(&self, w: &mut Workload) {
        let pod = std::sync::Arc::make_mut(&mut w.pod);
        for c in &mut pod.containers {
            if c.image.contains("{{")
                && let Some((image, from)) = self.render(&c.image, None)
            {
                c.image = image;
                c.image_from = from.map(|at| format!("{}:{}", at.file, at.line));
            }
        }
        let line = pod.class_location().map(|l| l.line as usize);
        if let ClassRef::Templated {
            expression,
            default: default @ None,
        } = &mut pod.priority_class
            && let Some((class, _)) = self.render(expression, line)
        {
            if class.is_empty() {
                // Helm renders `priorityClassName: ""` (or nothing): the class is not set.
                pod.priority_class = ClassRef::Empty;
            } else {
                *default = Some(class);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn chart(values: &str) -> Chart {
        Chart {
            root: PathBuf::from("c"),
            values: Some(values::parse(values, &Arc::from("c/values.yaml")).unwrap()),
            meta: values::parse("AppVersion: v9\n", &Arc::from("c/Chart.yaml")).unwrap(),
            enabled: true,
            helpers: HashMap::new(),
        }
    }

    #[test]
    fn values_decide_blocks_and_print_values() {
        let src = "spec:\n  {{- if .Values.off }}\n  a: 1\n  {{- else }}\n  b: {{ .Values.img }}:{{ .Values.tag | default .Chart.AppVersion }}\n  {{- end }}\n  {{- with .Values.pc }}\n  priorityClassName: {{ . | quote }}\n  {{- end }}\n  annotations: {{ toYaml .Values.x | nindent 4 }}\n";
        let r = preprocess(src, &chart("img: quay.io/x\npc: \"\"\n"), false);
        assert_eq!(r.text.len(), src.len());
        assert!(!r.text.contains("a: 1"), "{}", r.text);
        assert!(r.text.contains("  b: xxx"), "{}", r.text);
        assert!(!r.text.contains("priorityClassName"), "{}", r.text);
        assert!(r.text.contains("  annotations:  "), "{}", r.text);
        let b = "{{ .Values.img }}:{{ .Values.tag | default .Chart.AppVersion }}";
        let (image, from) = r.facts.render(b, None).unwrap();
        assert_eq!(image, "quay.io/x:v9");
        assert_eq!(from.unwrap().line, 1);
        assert_eq!(
            r.facts.classes,
            vec![ClassSource {
                line: 8,
                keys: vec!["pc".into()],
                set_in: Some(PathBuf::from("c/values.yaml")),
            }]
        );
    }

    #[test]
    fn unknown_conditions_keep_their_first_branch() {
        let src =
            "{{ if .Capabilities.APIVersions.Has \"x\" }}\na: 1\n{{ else }}\na: 2\n{{ end }}\n";
        let r = preprocess(src, &chart(""), false);
        assert!(
            r.text.contains("a: 1") && !r.text.contains("a: 2"),
            "{}",
            r.text
        );
        let r = preprocess(src, &Chart::unknown(Path::new("c")), false);
        assert!(
            r.text.contains("a: 1") && !r.text.contains("a: 2"),
            "{}",
            r.text
        );
    }

    #[test]
    fn subcharts_take_the_parents_overrides_and_condition() {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().join("parent");
        let sub = parent.join("charts/sub");
        std::fs::create_dir_all(sub.join("templates")).unwrap();
        let write = |p: &Path, text: &str| std::fs::write(p, text).unwrap();
        write(
            &parent.join("Chart.yaml"),
            "name: parent\ndependencies:\n- name: sub\n  alias: s\n  condition: s.enabled\n",
        );
        write(
            &parent.join("values.yaml"),
            "s:\n  enabled: true\n  image: over\nglobal:\n  g: 1\n",
        );
        write(&sub.join("Chart.yaml"), "name: sub\nappVersion: v2\n");
        write(&sub.join("values.yaml"), "image: own\nother: x\n");
        let template = sub.join("templates/a.yaml");
        write(
            &template,
            "a: {{ .Values.image }}-{{ .Values.other }}-{{ .Values.global.g }}\n",
        );
        let read = |overrides: &[PathBuf]| {
            let chart = Chart::of_template(&template, overrides).unwrap();
            let r = preprocess(&std::fs::read_to_string(&template).unwrap(), &chart, false);
            let tag = "{{ .Values.image }}-{{ .Values.other }}-{{ .Values.global.g }}";
            (r.text, r.facts.render(tag, None).map(|(v, _)| v))
        };
        assert_eq!(read(&[]).1.as_deref(), Some("over-x-1"));
        let cli = dir.path().join("cli.yaml");
        write(&cli, "s:\n  image: cli\n");
        assert_eq!(
            read(std::slice::from_ref(&cli)).1.as_deref(),
            Some("cli-x-1")
        );
        write(&cli, "s:\n  enabled: false\n");
        let (text, _) = read(std::slice::from_ref(&cli));
        assert!(
            text.trim().is_empty(),
            "a disabled subchart renders nothing: {text}"
        );
    }
}
