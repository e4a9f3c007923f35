//! Reading one file (or standard input): format detection, limits, and the YAML path.

use crate::Loaded;
use crate::helm;
use crate::json;
use crate::raw::{RawObject, pod_spec_path};
use crate::template::{self, Dialect};
use foldhash::{HashSet, HashSetExt};
use pg_model::{ClassRef, InputProblem, Location, Object, PodSpecFacts, SpecPositions, Workload};
use pg_yaml::{NodeDe, NodeId, Pos, Tree};
use serde::Deserialize;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Options {
    /// YAML is parsed whole; larger YAML files are refused (JSON of any size is streamed).
    pub max_yaml_bytes: u64,
    /// Label keys worth keeping (the ones the checks look at); `None` keeps all.
    pub keep_labels: Option<Arc<[String]>>,
    /// Values files merged over a Helm chart's own, as `helm template -f` does.
    pub values: Vec<PathBuf>,
    /// Follow symbolic links to directories in a walk (`--follow`).
    pub follow: bool,
    /// An Ansible inventory whose `group_vars/` templates in roles see (`--inventory`).
    pub inventory: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_yaml_bytes: 64 << 20,
            keep_labels: None,
            values: Vec::new(),
            follow: false,
            inventory: None,
        }
    }
}

/// JSON files up to this size go through the YAML parser, which gives every field a position;
/// larger ones are streamed.
const SPANNED_JSON_BYTES: u64 = 8 << 20;
const SNIFF_BYTES: usize = 8 << 10;

pub fn describe_io_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied (check the file's mode)".into(),
        _ if e.raw_os_error() == Some(40) => "too many levels of symbolic links".into(),
        _ => e.to_string(),
    }
}

fn problem(source: impl Into<String>, message: impl Into<String>) -> Loaded {
    Loaded {
        problems: vec![InputProblem {
            source: source.into(),
            message: message.into(),
            skipped: false,
        }],
        ..Loaded::default()
    }
}

fn starts_like_json(head: &[u8]) -> bool {
    let first = head
        .iter()
        .find(|b| !b.is_ascii_whitespace() && **b != 0xEF && **b != 0xBB && **b != 0xBF);
    matches!(first, Some(b'{' | b'['))
}

pub fn load_file(path: &Path, explicit: bool, opts: &Options) -> Loaded {
    let name: Arc<str> = path.display().to_string().into();
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return problem(&*name, describe_io_error(&e)),
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = vec![0u8; SNIFF_BYTES];
    let n = match read_up_to(&mut file, &mut head) {
        Ok(n) => n,
        Err(e) => return problem(&*name, describe_io_error(&e)),
    };
    head.truncate(n);
    match utf16(&head) {
        Some(Utf16::WithBom(big_endian)) => {
            // As kubectl reads it (its readers decode a UTF-16 byte-order mark): to UTF-8.
            if size > opts.max_yaml_bytes.saturating_mul(2) {
                return too_large(&name, size, opts);
            }
            let mut bytes = head;
            if let Err(e) = file.read_to_end(&mut bytes) {
                return problem(&*name, describe_io_error(&e));
            }
            return match decode_utf16(&bytes, big_endian) {
                Ok(text) => load_bytes(
                    name,
                    text.into_bytes(),
                    Dialect::of(path),
                    Some(path),
                    explicit,
                    opts,
                ),
                Err(line) => problem(
                    format!("{name}:{line}"),
                    "invalid UTF-16 (it starts with a UTF-16 byte-order mark)",
                ),
            };
        }
        Some(Utf16::WithoutBom) => return problem(&*name, UTF16_WITHOUT_BOM),
        None => {}
    }
    if head.contains(&0) {
        let mut l = problem(&*name, "binary file, skipped");
        l.problems[0].skipped = !explicit;
        return l;
    }
    if starts_like_json(&head) && size > SPANNED_JSON_BYTES {
        let reader = io::Cursor::new(head).chain(file);
        return load_json_stream(name, reader, size, opts);
    }
    if size > opts.max_yaml_bytes {
        return too_large(&name, size, opts);
    }
    let mut bytes = head;
    if let Err(e) = file.read_to_end(&mut bytes) {
        return problem(&*name, describe_io_error(&e));
    }
    load_bytes(name, bytes, Dialect::of(path), Some(path), explicit, opts)
}

pub fn load_stdin(opts: &Options) -> Loaded {
    let name: Arc<str> = "<stdin>".into();
    let mut stdin = io::stdin();
    let mut head = vec![0u8; SNIFF_BYTES];
    let n = match read_up_to(&mut stdin, &mut head) {
        Ok(n) => n,
        Err(e) => return problem(&*name, describe_io_error(&e)),
    };
    head.truncate(n);
    let big_endian = match utf16(&head) {
        Some(Utf16::WithBom(big_endian)) => Some(big_endian),
        Some(Utf16::WithoutBom) => return problem(&*name, UTF16_WITHOUT_BOM),
        None if head.contains(&0) => {
            return problem(
                &*name,
                "binary data (NUL bytes), not YAML or JSON; nothing was read",
            );
        }
        None => None,
    };
    if big_endian.is_none() && starts_like_json(&head) {
        return load_json_stream(name, io::Cursor::new(head).chain(stdin), 0, opts);
    }
    let limit = if big_endian.is_some() {
        opts.max_yaml_bytes.saturating_mul(2)
    } else {
        opts.max_yaml_bytes
    };
    let mut bytes = head;
    let more = limit.saturating_add(1).saturating_sub(bytes.len() as u64);
    if let Err(e) = (&mut stdin).take(more).read_to_end(&mut bytes) {
        return problem(&*name, describe_io_error(&e));
    }
    if bytes.len() as u64 > limit {
        return problem(
            &*name,
            format!(
                "more than {} of YAML on standard input (--max-yaml-size {}); for large dumps use `kubectl get -o json`, which is streamed whatever its size, or raise --max-yaml-size",
                human_size(limit),
                opts.max_yaml_bytes >> 20
            ),
        );
    }
    if let Some(big_endian) = big_endian {
        return match decode_utf16(&bytes, big_endian) {
            Ok(text) => load_bytes(name, text.into_bytes(), None, None, true, opts),
            Err(line) => problem(
                format!("{name}:{line}"),
                "invalid UTF-16 (it starts with a UTF-16 byte-order mark)",
            ),
        };
    }
    load_bytes(name, bytes, None, None, true, opts)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut total = 0;
    while total < buf.len() {
        match r.read(&mut buf[total..]) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

fn too_large(name: &str, size: u64, opts: &Options) -> Loaded {
    problem(
        name,
        format!(
            "{} is too large for YAML input (limit {}, --max-yaml-size); dump clusters with `kubectl get -o json`, which is streamed",
            human_size(size),
            human_size(opts.max_yaml_bytes)
        ),
    )
}

const UTF16_WITHOUT_BOM: &str = "looks like UTF-16 without a byte-order mark, which kubectl does not read either; convert it to UTF-8 (iconv -f UTF-16LE -t UTF-8, or UTF-16BE)";

/// A text encoding kubectl reads besides UTF-8.
enum Utf16 {
    /// Starts with FF FE (little-endian, `false`) or FE FF (big-endian, `true`).
    WithBom(bool),
    /// No mark, but every other byte of the start is NUL, as ASCII text in UTF-16 is.
    WithoutBom,
}

fn utf16(head: &[u8]) -> Option<Utf16> {
    match head {
        [0xFF, 0xFE, ..] => return Some(Utf16::WithBom(false)),
        [0xFE, 0xFF, ..] => return Some(Utf16::WithBom(true)),
        _ => {}
    }
    let pairs = head.len().min(256) / 2;
    if pairs < 2 {
        return None;
    }
    // Mostly ASCII: three units in four have a NUL half, always the same half.
    let zeros = |odd: usize| (0..pairs).filter(|i| head[2 * i + odd] == 0).count();
    let (even, odd) = (zeros(0), zeros(1));
    (even.min(odd) == 0 && even.max(odd) * 4 >= pairs * 3).then_some(Utf16::WithoutBom)
}

/// The text of UTF-16 `bytes` (starting with their byte-order mark, which is dropped), or the
/// line of the first invalid unit.
fn decode_utf16(bytes: &[u8], big_endian: bool) -> Result<String, usize> {
    let units = bytes[2..].chunks(2).map(|c| match (c, big_endian) {
        ([a, b], false) => u16::from_le_bytes([*a, *b]),
        ([a, b], true) => u16::from_be_bytes([*a, *b]),
        // An odd byte at the end: no UTF-16 unit.
        _ => 0xDC00,
    });
    let mut text = String::with_capacity(bytes.len() / 2);
    let mut line = 1;
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => {
                line += usize::from(c == '\n');
                text.push(c);
            }
            Err(_) => return Err(line),
        }
    }
    Ok(text)
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

fn load_json_stream(name: Arc<str>, reader: impl Read + Send, size: u64, opts: &Options) -> Loaded {
    let mut loaded = Loaded::default();
    loaded.stats.files = 1;
    loaded.stats.bytes = size;
    // The pods of one owner mostly say the same: hold what they say once.
    let mut facts: HashSet<Arc<PodSpecFacts>> = HashSet::new();
    let result = json::stream(reader, opts.keep_labels.as_deref(), |item| {
        loaded.stats.documents += 1;
        match item.object {
            Ok(Some(mut object)) => {
                if let Object::Workload(w) = &mut object {
                    match facts.get(&*w.pod) {
                        Some(same) => w.pod = same.clone(),
                        None => {
                            facts.insert(w.pod.clone());
                        }
                    }
                }
                set_object_location(
                    &mut object,
                    Location {
                        file: name.clone(),
                        line: item.line,
                        column: 1,
                    },
                );
                count(&mut loaded, &object);
                loaded.objects.push(object);
            }
            Ok(None) => {}
            Err(e) => loaded.problems.push(InputProblem {
                source: format!("{name}:{}:{}", e.line, e.column),
                message: e.message,
                skipped: false,
            }),
        }
    });
    if let Err(e) = result {
        loaded.problems.push(InputProblem {
            source: format!("{name}:{}", e.line),
            message: e.message,
            skipped: false,
        });
    }
    loaded
}

fn count(loaded: &mut Loaded, object: &Object) {
    match object {
        Object::Workload(w) if w.kind == pg_model::WorkloadKind::Pod => loaded.stats.pods += 1,
        Object::Workload(_) => loaded.stats.workloads += 1,
        Object::PriorityClass(_) => loaded.stats.priority_classes += 1,
        _ => {}
    }
}

fn set_object_location(object: &mut Object, at: Location) {
    match object {
        Object::Workload(w) => w.location = Some(at),
        Object::PriorityClass(c) => c.location = Some(at),
        Object::ResourceQuota(q) => q.location = Some(at),
        Object::QuotaConfig(c) => c.location = Some(at),
        Object::Service(s) => s.location = Some(at),
        Object::WebhookConfig(w) => w.location = Some(at),
    }
}

/// Line of the first invalid UTF-8 byte.
fn utf8_error_line(bytes: &[u8], valid_up_to: usize) -> usize {
    1 + memchr::memchr_iter(b'\n', &bytes[..valid_up_to]).count()
}

fn load_bytes(
    name: Arc<str>,
    bytes: Vec<u8>,
    dialect: Option<Dialect>,
    path: Option<&Path>,
    explicit: bool,
    opts: &Options,
) -> Loaded {
    let size = bytes.len() as u64;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = utf8_error_line(e.as_bytes(), e.utf8_error().valid_up_to());
            return problem(
                format!("{name}:{line}"),
                "invalid UTF-8; manifests must be UTF-8 text",
            );
        }
    };
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut loaded = Loaded::default();
    let mut helm_facts = None;
    let (parsed, expressions) = match (dialect, path) {
        (Some(Dialect::Helm), Some(p)) => {
            let chart = helm::Chart::of_template(p, &opts.values).unwrap_or_else(|problem| {
                loaded.problems.push(problem);
                helm::Chart::unknown(p)
            });
            let r = helm::preprocess(body, &chart, helm::is_helpers_file(p));
            helm_facts = Some(r.facts);
            (r.text, Some(r.expressions))
        }
        (Some(d), _) => {
            let (t, x) = template::preprocess(body, d);
            (t, Some(x))
        }
        (None, _) => (String::new(), None),
    };
    let source = if expressions.is_some() {
        parsed.as_str()
    } else {
        body
    };
    loaded.stats.files = 1;
    loaded.stats.bytes = size;
    // Documents that are (or claim to be) Kubernetes objects, readable or not.
    let mut kubernetes = 0;
    let mut role_vars = None;
    let result = pg_yaml::parse_stream(source, |unit| {
        loaded.stats.documents += 1;
        let root = unit.tree.node(unit.root);
        if is_empty_document(unit.tree, unit.root) {
            return;
        }
        let is_map = matches!(root.kind, pg_yaml::NodeKind::Map(_));
        let has = |key| is_map && unit.tree.get(unit.root, key).is_some();
        let (has_api_version, has_kind) = (has("apiVersion"), has("kind"));
        if !has_api_version && !has_kind {
            not_kubernetes(&mut loaded, format!("{name}:{}", root.start.line));
            return;
        }
        let claims = has_api_version && has_kind;
        let de = NodeDe {
            tree: unit.tree,
            id: unit.root,
            original: expressions
                .as_ref()
                .map(|x| x as &dyn pg_yaml::OriginalText),
        };
        match RawObject::deserialize(de) {
            Ok(raw) if unit.in_list && raw.is_list() => loaded.problems.push(InputProblem {
                source: format!("{name}:{}", unit.tree.node(unit.root).start.line),
                message: NESTED_LIST.into(),
                skipped: false,
            }),
            Ok(raw) => {
                kubernetes += 1;
                let not_a_string = non_string_name(&raw);
                let object = raw.into_object(opts.keep_labels.as_deref());
                if let (Some(message), Some(_)) = (&not_a_string, &object) {
                    loaded.problems.push(InputProblem {
                        source: format!("{name}:{}", unit.tree.node(unit.root).start.line),
                        message: message.clone(),
                        skipped: false,
                    });
                } else if let Some(mut object) = object {
                    locate(&mut object, unit.tree, unit.root, &name);
                    if let (Object::Workload(w), Some(facts)) = (&mut object, &helm_facts) {
                        facts.resolve(w);
                    }
                    if let (Object::Workload(w), Some(p)) = (&mut object, path) {
                        // Looked up once per file, at its first workload.
                        let vars = role_vars
                            .get_or_insert_with(|| ansible_vars(p, opts.inventory.as_deref()));
                        resolve_with(w, p, vars.as_deref());
                    }
                    count(&mut loaded, &object);
                    loaded.objects.push(object);
                }
            }
            Err(_) if !claims => {
                not_kubernetes(&mut loaded, format!("{name}:{}", root.start.line));
            }
            Err(e) => {
                kubernetes += 1;
                loaded.problems.push(InputProblem {
                    source: format!("{name}:{}", e.line.unwrap_or(root.start.line)),
                    message: format!("not a valid Kubernetes object: {e}"),
                    skipped: false,
                });
            }
        }
    });
    if let Err(e) = result {
        // JSON that YAML's parser refuses (tabs, for one) may still be valid JSON.
        if starts_like_json(source.as_bytes()) && expressions.is_none() {
            let mut retry =
                load_json_stream(name.clone(), io::Cursor::new(source.as_bytes()), size, opts);
            if retry.problems.is_empty() {
                return retry;
            }
            if !explicit && !claims_kubernetes(source) {
                return skipped_unreadable(name, size);
            }
            retry.objects.clear();
            loaded.problems.append(&mut retry.problems);
            return loaded;
        }
        if !explicit && !claims_kubernetes(source) {
            return skipped_unreadable(name, size);
        }
        loaded.problems.push(InputProblem {
            source: format!("{name}:{}:{}", e.line, e.col),
            message: yaml_message(&e.message),
            skipped: false,
        });
        return loaded;
    }
    // A Helm template renders nothing when its values say so: that is no reason for a note.
    if explicit && kubernetes == 0 && loaded.problems.is_empty() && dialect != Some(Dialect::Helm) {
        loaded.problems.push(InputProblem {
            source: name.to_string(),
            message: "holds no Kubernetes object (no document has apiVersion and kind)".into(),
            skipped: true,
        });
    }
    loaded
}

/// An empty document (`---` with nothing after it, or only comments).
fn is_empty_document(tree: &Tree, root: NodeId) -> bool {
    matches!(
        &tree.node(root).kind,
        pg_yaml::NodeKind::Scalar { value, style: pg_yaml::ScalarStyle::Plain }
            if value.is_empty() || value == "~" || value == "null"
    )
}

const NOT_KUBERNETES: &str = "not a Kubernetes object (no apiVersion and kind), skipped";

fn not_kubernetes(loaded: &mut Loaded, source: String) {
    loaded.stats.not_kubernetes += 1;
    loaded.quiet.push(InputProblem {
        source,
        message: NOT_KUBERNETES.into(),
        skipped: true,
    });
}

/// A file found in a walk that neither parses nor mentions `apiVersion` and `kind`: a
/// template of something else, not a broken manifest.
fn skipped_unreadable(name: Arc<str>, size: u64) -> Loaded {
    let mut loaded = Loaded::default();
    loaded.stats.files = 1;
    loaded.stats.bytes = size;
    loaded.stats.not_kubernetes = 1;
    loaded.quiet.push(InputProblem {
        source: name.to_string(),
        message: "neither YAML nor JSON that parses, and no apiVersion and kind in it: not a manifest, skipped".into(),
        skipped: true,
    });
    loaded
}

/// Whether text that does not parse still says it holds Kubernetes objects: a line starting
/// (after indentation or `- `) with an `apiVersion` key, and one with a `kind` key.
fn claims_kubernetes(text: &str) -> bool {
    let has_key = |key: &str| {
        text.lines().any(|line| {
            let l = line.trim_start_matches([' ', '\t', '-', '{', ',']);
            let l = l.strip_prefix('"').unwrap_or(l);
            l.strip_prefix(key)
                .map(|r| r.strip_prefix('"').unwrap_or(r).trim_start())
                .is_some_and(|r| r.starts_with(':'))
        })
    };
    has_key("apiVersion") && has_key("kind")
}

/// `name: 1e3`, `namespace: 0x10`, `name: true`: YAML reads them as a number or a boolean,
/// and the API server refuses an object whose name is not a string (so does kubectl, before
/// sending it); read as text they would name an object that cannot exist. A collection there
/// is in practice a template expression (`namespace: {{ .Namespace }}` in a Go-templated
/// manifest outside a chart): the object is read with that field unknown, as before.
pub(crate) fn non_string_name(raw: &RawObject) -> Option<String> {
    use crate::raw::Scalar;
    let what = |s: &Option<Scalar>| match s {
        Some(Scalar::Int(_) | Scalar::Float(_)) => Some("a number"),
        Some(Scalar::Bool(_)) => Some("a boolean"),
        _ => None,
    };
    [
        ("metadata.name", &raw.metadata.name),
        ("metadata.namespace", &raw.metadata.namespace),
    ]
    .into_iter()
    .find_map(|(field, value)| {
        what(value).map(|w| {
            format!("{field} is {w}, not a string; the API server refuses it (quote it: \"...\")")
        })
    })
}

/// kubectl's refusal too (it does not flatten a List inside a List).
pub(crate) const NESTED_LIST: &str =
    "a List inside a List; kubectl refuses it too: put its items in the outer List";

/// Parser messages, with a hint where the usual cause is known.
fn yaml_message(message: &str) -> String {
    if message.contains("recursion limit") {
        format!(
            "invalid YAML: nested too deeply ({message}; manifests need a few dozen levels at most)"
        )
    } else if message.contains("tab") {
        format!("invalid YAML: {message} (YAML indentation must use spaces, not tabs)")
    } else {
        format!("invalid YAML: {message}")
    }
}

fn at(name: &Arc<str>, p: Pos) -> Location {
    Location {
        file: name.clone(),
        line: p.line as u32,
        column: p.col as u32 + 1,
    }
}

fn locate(object: &mut Object, tree: &Tree, root: NodeId, name: &Arc<str>) {
    let start = at(name, tree.node(root).start);
    set_object_location(object, start);
    let Object::Workload(w) = object else { return };
    let Some(spec) = tree.path(root, pod_spec_path(w.kind)) else {
        return;
    };
    let key = |k: &str| {
        tree.get_entry(spec, k)
            .map(|(k, _)| at(name, tree.node(k).start))
    };
    std::sync::Arc::make_mut(&mut w.pod).positions = Some(Box::new(SpecPositions {
        spec: at(name, tree.node(spec).start),
        class: key("priorityClassName"),
        priority: key("priority"),
    }));
}

/// What a workload read from the template at `path` renders to, as far as its Ansible role's
/// variables (and `inventory`'s group_vars) or its Helm chart's values tell.
pub fn resolve_templated(w: &mut Workload, path: &Path, inventory: Option<&Path>) {
    resolve_with(w, path, ansible_vars(path, inventory).as_deref());
}

fn ansible_vars(path: &Path, inventory: Option<&Path>) -> Option<Arc<crate::ansible::Vars>> {
    (Dialect::of(path) == Some(Dialect::Jinja))
        .then(|| crate::ansible::vars_for(path, inventory))
        .flatten()
}

fn resolve_with(w: &mut Workload, path: &Path, vars: Option<&crate::ansible::Vars>) {
    if let Some(vars) = vars {
        resolve_ansible(w, vars);
    }
    resolve_template_default(w, path);
}

/// Images, name, namespace and class of a workload in an Ansible role, as Ansible would
/// render them from the role's variables (what cannot be resolved stays as written).
fn resolve_ansible(w: &mut Workload, vars: &crate::ansible::Vars) {
    for c in &mut Arc::make_mut(&mut w.pod).containers {
        if c.image.contains("{{")
            && let Some(r) = vars.resolve(&c.image)
        {
            c.image = r.text;
            c.image_from = Some(r.origin.to_string());
        }
    }
    for field in [&mut w.name, w.namespace.get_or_insert_default()] {
        if field.contains("{{")
            && let Some(r) = vars.resolve(field)
        {
            *field = r.text;
        }
    }
    if w.namespace.as_deref() == Some("") {
        w.namespace = None;
    }
    if let ClassRef::Templated {
        expression,
        default,
    } = &mut Arc::make_mut(&mut w.pod).priority_class
        && let Some(r) = vars.resolve(expression)
        && !r.text.contains("{{")
    {
        *default = Some(r.text);
    }
}

fn resolve_template_default(w: &mut Workload, path: &Path) {
    if let ClassRef::Templated {
        expression,
        default: default @ None,
    } = &mut Arc::make_mut(&mut w.pod).priority_class
    {
        *default = template::resolve_default(expression, path);
    }
}
