//! Ansible variables for Jinja2 templates inside a role (`roles/<role>/templates/*.j2`), so that
//! `image: {{ csi_provisioner_image_repo }}:{{ tag }}` meets the catalog as Ansible would
//! render it.
//!
//! Variables come, lowest precedence first, from the defaults of Kubespray's
//! `roles/kubespray_defaults` (every Kubespray play runs it first), of the roles the role
//! depends on (`meta/main.yml`), of the role itself; then an inventory's `group_vars/` (`all`
//! first, then the other groups by name); then the same roles' `vars/`. Values are expanded
//! recursively through nested `{{ }}`, string literals, `~`/`+` concatenation, attribute access
//! and the static filters `default`/`d`, `string`, `lower`, `upper`, `trim`, `replace` and
//! `regex_replace`. Anything else (facts, lookups, conditionals, other filters) stays as written.

use pg_yaml::{NodeId, NodeKind, Tree};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Nested expressions deeper than this are taken for a cycle.
const MAX_DEPTH: usize = 24;

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Map(HashMap<String, Value>),
    /// Lists, nulls: nothing a name or image is made of.
    Other,
}

/// Where a variable is defined: `roles/x/defaults/main.yml:12`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug, Clone)]
struct Var {
    value: Value,
    origin: Origin,
}

/// The variables a role's templates see.
#[derive(Debug, Default)]
pub struct Vars {
    vars: HashMap<String, Var>,
}

/// A template string with what could be resolved substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub text: String,
    /// Where the first variable that was resolved is defined.
    pub origin: Origin,
}

type FileVars = Arc<Vec<(String, Var)>>;

/// A role's directory and the inventory given.
type RoleKey = (PathBuf, Option<PathBuf>);

/// Role variables are read once per run, whatever the number of templates using them.
fn role_cache() -> &'static Mutex<HashMap<RoleKey, Arc<Vars>>> {
    static CACHE: OnceLock<Mutex<HashMap<RoleKey, Arc<Vars>>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

fn file_cache() -> &'static Mutex<HashMap<PathBuf, FileVars>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, FileVars>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The role a template belongs to: the parent of its `templates/` directory, when that holds
/// `tasks/`, `defaults/`, `vars/` or `meta/`.
pub fn role_of(template: &Path) -> Option<&Path> {
    let role = template
        .ancestors()
        .skip(1)
        .find(|d| d.file_name().is_some_and(|n| n == "templates"))?
        .parent()?;
    ["tasks", "defaults", "vars", "meta"]
        .iter()
        .any(|d| role.join(d).is_dir())
        .then_some(role)
}

/// The variables of the role holding `template`, if it is in one.
pub fn vars_for(template: &Path, inventory: Option<&Path>) -> Option<Arc<Vars>> {
    let role = role_of(template)?.to_path_buf();
    let key = (role, inventory.map(Path::to_path_buf));
    if let Some(v) = role_cache().lock().expect("not poisoned").get(&key) {
        return Some(Arc::clone(v));
    }
    let vars = Arc::new(Vars::load(&key.0, inventory));
    role_cache()
        .lock()
        .expect("not poisoned")
        .insert(key, Arc::clone(&vars));
    Some(vars)
}

impl Vars {
    fn load(role: &Path, inventory: Option<&Path>) -> Vars {
        let roles_root = role
            .ancestors()
            .skip(1)
            .find(|d| d.file_name().is_some_and(|n| n == "roles"));
        let mut roles = Vec::new();
        if let Some(root) = roles_root {
            let base = root.join("kubespray_defaults");
            if base.is_dir() && base != role {
                roles.push(base);
            }
            dependencies(role, root, &mut roles, 0);
        }
        roles.retain(|r| r != role);
        roles.push(role.to_path_buf());
        let mut files = Vec::new();
        for r in &roles {
            files.extend(vars_files(&r.join("defaults")));
        }
        if let Some(inv) = inventory {
            let group_vars = inv.join("group_vars");
            let mut groups: Vec<PathBuf> = std::fs::read_dir(&group_vars)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            groups.sort_by_key(|g| (group_name(g) != "all", g.clone()));
            for g in groups {
                if g.is_dir() {
                    files.extend(vars_files(&g));
                } else if is_yaml(&g) {
                    files.push(g);
                }
            }
        }
        for r in &roles {
            files.extend(vars_files(&r.join("vars")));
        }
        let mut vars = Vars::default();
        for f in files {
            for (name, var) in read_vars(&f).iter() {
                vars.vars.insert(name.clone(), var.clone());
            }
        }
        vars
    }

    /// `text` with each `{{ expression }}` that resolves replaced by its value; `None` when
    /// none does.
    pub fn resolve(&self, text: &str) -> Option<Resolved> {
        let mut out = String::with_capacity(text.len());
        let mut origin = None;
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open..].find("}}") else {
                break;
            };
            out.push_str(&rest[..open]);
            let tag = &rest[open..open + close + 2];
            let mut first = None;
            match self.expression(&tag[2..tag.len() - 2], 0, &mut first) {
                Ok(value) => {
                    out.push_str(&value);
                    if origin.is_none() {
                        origin = first;
                    }
                }
                Err(_) => out.push_str(tag),
            }
            rest = &rest[open + close + 2..];
        }
        out.push_str(rest);
        Some(Resolved {
            text: out,
            origin: origin?,
        })
    }

    /// The value of a variable's text, every tag in it resolved.
    fn render(&self, text: &str, depth: usize) -> Result<String, Unresolved> {
        if text.contains("{%") || text.contains("{#") {
            return Err(Unresolved::Unknown);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let close = rest[open..].find("}}").ok_or(Unresolved::Unknown)?;
            out.push_str(&rest[..open]);
            out.push_str(&self.expression(&rest[open + 2..open + close], depth + 1, &mut None)?);
            rest = &rest[open + close + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn expression(
        &self,
        inner: &str,
        depth: usize,
        origin: &mut Option<Origin>,
    ) -> Result<String, Unresolved> {
        if depth > MAX_DEPTH {
            return Err(Unresolved::Unknown);
        }
        let inner = inner.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        let mut parts = split_top(inner, '|').into_iter();
        let base = parts.next().ok_or(Unresolved::Unknown)?;
        let mut value = self.concatenation(base, depth, origin);
        for filter in parts {
            value = self.filter(value, filter.trim(), depth, origin);
        }
        value
    }

    /// `a ~ b + 'c'`: operands joined as strings.
    fn concatenation(
        &self,
        expr: &str,
        depth: usize,
        origin: &mut Option<Origin>,
    ) -> Result<String, Unresolved> {
        let mut out = String::new();
        for operand in split_top(expr, '~') {
            for part in split_top(operand, '+') {
                out.push_str(&self.operand(part.trim(), depth, origin)?);
            }
        }
        Ok(out)
    }

    fn operand(
        &self,
        expr: &str,
        depth: usize,
        origin: &mut Option<Origin>,
    ) -> Result<String, Unresolved> {
        if let Some(s) = string_literal(expr) {
            return Ok(s);
        }
        if let Some(inner) = expr.strip_prefix('(').and_then(|e| e.strip_suffix(')')) {
            return self.expression(inner, depth, origin);
        }
        let mut path = attribute_path(expr).ok_or(Unresolved::Unknown)?.into_iter();
        let name = path.next().ok_or(Unresolved::Unknown)?;
        let var = self.vars.get(&name).ok_or(Unresolved::Undefined)?;
        let mut value = &var.value;
        for key in path {
            value = match value {
                Value::Map(m) => m.get(&key).ok_or(Unresolved::Undefined)?,
                _ => return Err(Unresolved::Unknown),
            };
        }
        let Value::Text(text) = value else {
            return Err(Unresolved::Unknown);
        };
        let rendered = self.render(text, depth)?;
        origin.get_or_insert_with(|| var.origin.clone());
        Ok(rendered)
    }

    fn filter(
        &self,
        value: Result<String, Unresolved>,
        filter: &str,
        depth: usize,
        origin: &mut Option<Origin>,
    ) -> Result<String, Unresolved> {
        let (name, args) = match filter.find('(') {
            Some(p) if filter.ends_with(')') => (
                filter[..p].trim(),
                split_top(&filter[p + 1..filter.len() - 1], ','),
            ),
            _ => (filter, Vec::new()),
        };
        let literal = |i: usize| -> Result<String, Unresolved> {
            args.get(i)
                .and_then(|a| string_literal(a.trim()))
                .ok_or(Unresolved::Unknown)
        };
        match name {
            "default" | "d" => {
                let if_empty = args
                    .get(1)
                    .is_some_and(|a| matches!(a.trim(), "true" | "True"));
                match value {
                    Err(Unresolved::Undefined) => {}
                    Ok(v) if if_empty && v.is_empty() => {}
                    other => return other,
                }
                let fallback = args.first().ok_or(Unresolved::Unknown)?;
                let mut fallback_origin = None;
                let v = self.expression(fallback, depth + 1, &mut fallback_origin)?;
                if origin.is_none() {
                    *origin = fallback_origin;
                }
                Ok(v)
            }
            "string" | "trim" | "lower" | "upper" => {
                let v = value?;
                Ok(match name {
                    "lower" => v.to_lowercase(),
                    "upper" => v.to_uppercase(),
                    "trim" => v.trim().to_string(),
                    _ => v,
                })
            }
            "replace" => Ok(value?.replace(&literal(0)?, &literal(1)?)),
            "regex_replace" => {
                let pattern = regex::Regex::new(&literal(0)?).map_err(|_| Unresolved::Unknown)?;
                let replacement = python_replacement(&literal(1).unwrap_or_default());
                Ok(pattern
                    .replace_all(&value?, replacement.as_str())
                    .into_owned())
            }
            _ => Err(Unresolved::Unknown),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unresolved {
    /// No such variable: `default(...)` applies.
    Undefined,
    /// Defined (or an expression) but not something we evaluate.
    Unknown,
}

/// Python's `\1` group references as the `regex` crate writes them (`${1}`).
fn python_replacement(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push_str("${");
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    out.push(d);
                    chars.next();
                }
                out.push('}');
            }
            '$' => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out
}

/// `'text'` or `"text"` (without escapes).
fn string_literal(s: &str) -> Option<String> {
    let quote = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = s[1..].strip_suffix(quote)?;
    (!body.contains(quote)).then(|| body.to_string())
}

/// `a.b['c'].d` -> `[a, b, c, d]`; `None` for anything but a variable path.
fn attribute_path(expr: &str) -> Option<Vec<String>> {
    let ident = |s: &str| {
        !s.is_empty()
            && !s.starts_with(|c: char| c.is_ascii_digit())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut out = Vec::new();
    let mut rest = expr;
    loop {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let name = &rest[..end];
        if !ident(name) {
            return None;
        }
        out.push(name.to_string());
        rest = &rest[end..];
        while let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            out.push(string_literal(r[..close].trim())?);
            rest = &r[close + 1..];
        }
        match rest.strip_prefix('.') {
            Some(r) => rest = r,
            None if rest.is_empty() => break,
            None => return None,
        }
    }
    if matches!(
        out[0].as_str(),
        "true" | "false" | "none" | "True" | "False" | "None"
    ) {
        return None;
    }
    Some(out)
}

/// Splits at `sep` outside quotes, parentheses and brackets.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None, 0);
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, _) if c == sep && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn group_name(path: &Path) -> &str {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.strip_suffix(".yml")
        .or_else(|| name.strip_suffix(".yaml"))
        .unwrap_or(name)
}

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yml" || e == "yaml")
}

/// `dir/main.yml` and every YAML file under `dir/main/` (Ansible reads both layouts), or for
/// a group_vars directory every YAML file in it.
fn vars_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["main.yml", "main.yaml"]
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    let sub = if dir.join("main").is_dir() {
        dir.join("main")
    } else if dir
        .parent()
        .is_some_and(|p| p.file_name().is_some_and(|n| n == "group_vars"))
    {
        dir.to_path_buf()
    } else {
        return files;
    };
    let mut more: Vec<PathBuf> = std::fs::read_dir(sub)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    more.retain(|p| is_yaml(p) && p.is_file());
    more.sort();
    files.extend(more);
    files
}

/// Roles named in `role/meta/main.yml` `dependencies`, deepest first.
fn dependencies(role: &Path, roles_root: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 8 {
        return;
    }
    let Ok(text) = std::fs::read_to_string(role.join("meta").join("main.yml")) else {
        return;
    };
    let mut names = Vec::new();
    let _ = pg_yaml::parse_stream(&text, |unit| {
        let Some(deps) = unit.tree.get(unit.root, "dependencies") else {
            return;
        };
        let NodeKind::Seq(items) = &unit.tree.node(deps).kind else {
            return;
        };
        for &item in items {
            let name = unit
                .tree
                .scalar(item)
                .or_else(|| {
                    unit.tree
                        .get(item, "role")
                        .and_then(|r| unit.tree.scalar(r))
                })
                .or_else(|| {
                    unit.tree
                        .get(item, "name")
                        .and_then(|r| unit.tree.scalar(r))
                });
            if let Some(n) = name.filter(|n| !n.contains("{{")) {
                names.push(n.to_string());
            }
        }
    });
    for name in names {
        let dep = roles_root.join(&name);
        if dep.is_dir() && !out.contains(&dep) {
            dependencies(&dep, roles_root, out, depth + 1);
            out.push(dep);
        }
    }
}

/// The top-level variables of a vars file.
fn read_vars(path: &Path) -> FileVars {
    if let Some(v) = file_cache().lock().expect("not poisoned").get(path) {
        return Arc::clone(v);
    }
    let file: Arc<str> = path.display().to_string().into();
    let mut vars = Vec::new();
    if let Ok(text) = std::fs::read_to_string(path) {
        let _ = pg_yaml::parse_stream(&text, |unit| {
            if let NodeKind::Map(entries) = &unit.tree.node(unit.root).kind {
                for &(k, v) in entries {
                    if let Some(name) = unit.tree.scalar(k) {
                        let origin = Origin {
                            file: Arc::clone(&file),
                            line: unit.tree.node(k).start.line,
                        };
                        vars.push((
                            name.to_string(),
                            Var {
                                value: value_of(unit.tree, v),
                                origin,
                            },
                        ));
                    }
                }
            }
        });
    }
    let vars = Arc::new(vars);
    file_cache()
        .lock()
        .expect("not poisoned")
        .insert(path.to_path_buf(), Arc::clone(&vars));
    vars
}

fn value_of(tree: &Tree, id: NodeId) -> Value {
    match &tree.node(id).kind {
        NodeKind::Scalar { value, style } => {
            let null = *style == pg_yaml::ScalarStyle::Plain
                && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL");
            if null {
                Value::Other
            } else {
                Value::Text(value.clone())
            }
        }
        NodeKind::Map(entries) => Value::Map(
            entries
                .iter()
                .filter_map(|&(k, v)| Some((tree.scalar(k)?.to_string(), value_of(tree, v))))
                .collect(),
        ),
        NodeKind::Seq(_) => Value::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(defs: &[(&str, &str)]) -> Vars {
        let origin = Origin {
            file: "defaults/main.yml".into(),
            line: 1,
        };
        Vars {
            vars: defs
                .iter()
                .enumerate()
                .map(|(i, (k, v))| {
                    let value = Value::Text(v.to_string());
                    let origin = Origin {
                        line: i + 1,
                        ..origin.clone()
                    };
                    (k.to_string(), Var { value, origin })
                })
                .collect(),
        }
    }

    #[test]
    fn nested_expressions_and_static_filters() {
        let v = vars(&[
            ("kube_image_repo", "registry.k8s.io"),
            ("repo", "{{ kube_image_repo }}/sig-storage/csi-provisioner"),
            ("version", "1.2.3"),
            ("tag", "v{{ version }}"),
            ("mode", "IPVS"),
            ("arch", "{{ host_architecture | default('amd64') }}"),
        ]);
        let r = v.resolve("{{ repo }}:{{ tag }}").unwrap();
        assert_eq!(r.text, "registry.k8s.io/sig-storage/csi-provisioner:v1.2.3");
        assert_eq!(r.origin.line, 2);
        assert_eq!(v.resolve("x-{{ arch }}").unwrap().text, "x-amd64");
        assert_eq!(
            v.resolve("{{ mode | lower | replace('v', 'w') }}")
                .unwrap()
                .text,
            "ipws"
        );
        assert_eq!(
            v.resolve("{{ version | regex_replace('^(\\d+)\\..*$', 'v\\1') }}")
                .unwrap()
                .text,
            "v1"
        );
        assert_eq!(
            v.resolve("{{ 'k-' ~ (mode | lower) }}").unwrap().text,
            "k-ipvs"
        );
    }

    #[test]
    fn what_cannot_be_resolved_stays_as_written() {
        let v = vars(&[("repo", "r"), ("fact", "{{ ansible_hostname }}")]);
        assert_eq!(
            v.resolve("{{ repo }}:{{ missing_tag }}").unwrap().text,
            "r:{{ missing_tag }}"
        );
        assert_eq!(v.resolve("{{ fact }}"), None);
        assert_eq!(v.resolve("{{ lookup('env', 'X') }}"), None);
        assert_eq!(v.resolve("{{ 'a' if repo else 'b' }}"), None);
    }

    #[test]
    fn precedence_dependencies_kubespray_defaults_inventory_and_role_vars() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "roles/kubespray_defaults/defaults/main/download.yml",
            "repo: from-kubespray-defaults\nns: kube-system\ntag: v1\nname: base\n",
        );
        write("roles/base/defaults/main.yml", "name: from-dependency\n");
        write(
            "roles/apps/x/meta/main.yml",
            "dependencies:\n  - role: base\n",
        );
        write("roles/apps/x/defaults/main.yml", "tag: v2\nns: from-role\n");
        write("roles/apps/x/vars/main.yml", "ns: from-role-vars\n");
        write("roles/apps/x/templates/ds.yml.j2", "");
        write("inventory/group_vars/all/all.yml", "tag: v3\n");
        write(
            "inventory/group_vars/k8s_cluster.yml",
            "tag: v4\nns: from-inventory\n",
        );
        let template = root.join("roles/apps/x/templates/ds.yml.j2");

        let v = vars_for(&template, None).unwrap();
        let text = |v: &Vars, e: &str| v.resolve(e).unwrap().text;
        assert_eq!(
            text(&v, "{{ repo }}:{{ tag }}/{{ name }}/{{ ns }}"),
            "from-kubespray-defaults:v2/from-dependency/from-role-vars"
        );
        let origin = v.resolve("{{ repo }}").unwrap().origin;
        assert!(
            origin
                .file
                .ends_with("roles/kubespray_defaults/defaults/main/download.yml")
        );
        assert_eq!(origin.line, 1);

        let v = vars_for(&template, Some(&root.join("inventory"))).unwrap();
        assert_eq!(text(&v, "{{ tag }}/{{ ns }}"), "v4/from-role-vars");
    }
}
