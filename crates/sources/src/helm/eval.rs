//! Evaluates the pipelines charts write in conditions and values (`.Values.a.b`,
//! `default "x" .Values.y`, `and`, `or`, `not`, `eq`, `quote`, `printf`, ...) when the chart's
//! values decide them. Anything that depends on the release, the cluster or a function we do not
//! know is unknown (`None`), never guessed.

use super::action::{self, Kind};
use super::values::{Val, Value};
use std::collections::HashMap;

/// How deep named templates may include each other.
const MAX_INCLUDE_DEPTH: usize = 16;
/// A map key no YAML can write: marks the top-level context passed as a value (`include "x" .`).
const ROOT: &str = "\u{0}root";

/// What `.` is.
#[derive(Clone, Debug)]
pub enum Dot {
    /// The top-level context: `.Values`, `.Chart`, `.Release`, `.Capabilities`, ...
    Root,
    Val(Val),
    Unknown,
}

/// The chart-wide facts a pipeline can read.
pub struct Scope<'a> {
    pub values: &'a Val,
    /// `.Chart` (Name, Version, AppVersion as Chart.yaml writes them).
    pub chart: &'a Val,
    /// The bodies of the chart's named templates (`define`), for `include` and `template`.
    pub helpers: &'a HashMap<String, String>,
}

/// Variables of a named template being rendered (`$` is what it was given).
type Vars = Vec<(String, Option<Val>)>;

#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// `.a.b` relative to a base: `.` itself, `$`, or `$name`.
    Field {
        var: Option<String>,
        path: Vec<String>,
    },
    Str(String),
    Num(String),
    Ident(String),
    Open,
    Close,
    Pipe,
}

fn tokens(src: &str) -> Option<Vec<Token>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let path_chars = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
    while i < b.len() {
        let c = b[i];
        match c {
            _ if c.is_ascii_whitespace() => i += 1,
            b'(' => {
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                out.push(Token::Close);
                i += 1;
            }
            b'|' => {
                out.push(Token::Pipe);
                i += 1;
            }
            b'"' => {
                let mut s = String::new();
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        s.push(match b[i + 1] {
                            b'n' => '\n',
                            b't' => '\t',
                            other => other as char,
                        });
                        i += 2;
                    } else {
                        let ch = src[i..].chars().next()?;
                        s.push(ch);
                        i += ch.len_utf8();
                    }
                }
                i += 1;
                out.push(Token::Str(s));
            }
            b'`' => {
                let end = i + 1 + memchr::memchr(b'`', &b[i + 1..])?;
                out.push(Token::Str(src[i + 1..end].to_string()));
                i = end + 1;
            }
            b'.' | b'$' => {
                let start = i;
                i += 1;
                while i < b.len() && path_chars(b[i]) {
                    i += 1;
                }
                let text = &src[start..i];
                let (var, rest) = if let Some(v) = text.strip_prefix('$') {
                    let name_end = v.find('.').unwrap_or(v.len());
                    (Some(v[..name_end].to_string()), &v[name_end..])
                } else {
                    (None, text)
                };
                let path = rest
                    .split('.')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                out.push(Token::Field { var, path });
            }
            b'0'..=b'9' | b'-' | b'+' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                out.push(Token::Num(src[start..i].to_string()));
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Token::Ident(src[start..i].to_string()));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The value of `pipeline` with `dot` as `.`; `None` when the chart alone cannot tell.
pub fn eval(pipeline: &str, dot: &Dot, scope: &Scope) -> Option<Val> {
    eval_in(pipeline, dot, scope, &Vec::new(), 0)
}

fn eval_in(pipeline: &str, dot: &Dot, scope: &Scope, vars: &Vars, depth: usize) -> Option<Val> {
    let toks = tokens(pipeline)?;
    let mut p = Parser {
        toks: &toks,
        at: 0,
        vars,
        depth,
    };
    let v = p.pipeline(dot, scope)?;
    (p.at == toks.len()).then_some(v)?
}

/// The values keys a pipeline reads when it is nothing but a values path (a trailing
/// `| quote` or `| default ...` changes nothing): `.Values.a.b` -> `[a, b]`. `dot` is the
/// values path `.` stands for (under `with .Values.x`), `None` at the top level.
pub fn values_path(pipeline: &str, dot: Option<&[String]>) -> Option<Vec<String>> {
    let toks = tokens(pipeline)?;
    let first: Vec<&Token> = toks.iter().take_while(|t| **t != Token::Pipe).collect();
    let [Token::Field { var, path }] = first.as_slice() else {
        return None;
    };
    match (var.as_deref(), dot) {
        (Some(""), _) | (None, None) if path.first().is_some_and(|p| p == "Values") => {
            Some(path[1..].to_vec())
        }
        (None, Some(base)) => Some([base, path.as_slice()].concat()),
        _ => None,
    }
}

struct Parser<'t> {
    toks: &'t [Token],
    at: usize,
    vars: &'t Vars,
    /// How many `include`s deep this pipeline is.
    depth: usize,
}

/// `None` inside: the value is unknown.
type Eval = Option<Val>;

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.at)
    }

    /// `Some(None)` is a well-formed pipeline whose value is unknown; `None` is a parse error.
    fn pipeline(&mut self, dot: &Dot, scope: &Scope) -> Option<Eval> {
        let mut piped: Option<Eval> = None;
        loop {
            let v = self.command(dot, scope, piped.take())?;
            piped = Some(v);
            if self.peek() == Some(&Token::Pipe) {
                self.at += 1;
            } else {
                return piped;
            }
        }
    }

    fn command(&mut self, dot: &Dot, scope: &Scope, piped: Option<Eval>) -> Option<Eval> {
        let mut args: Vec<Eval> = Vec::new();
        let mut func = None;
        if let Some(Token::Ident(name)) = self.peek()
            && !matches!(name.as_str(), "true" | "false" | "nil")
        {
            func = Some(name.clone());
            self.at += 1;
        }
        while let Some(t) = self.peek() {
            if matches!(t, Token::Pipe | Token::Close) {
                break;
            }
            args.push(self.operand(dot, scope)?);
        }
        args.extend(piped);
        match func {
            Some(f) if f == "include" || f == "template" => {
                let [name, arg] = <[Eval; 2]>::try_from(args).ok()?;
                let name = name.and_then(|n| n.text());
                Some(name.and_then(|n| render_named(&n, arg, scope, self.depth + 1)))
            }
            Some(f) => Some(call(&f, args)),
            None if args.len() == 1 => args.pop(),
            None => None,
        }
    }

    fn operand(&mut self, dot: &Dot, scope: &Scope) -> Option<Eval> {
        let t = self.peek()?.clone();
        self.at += 1;
        Some(match t {
            Token::Open => {
                let v = self.pipeline(dot, scope)?;
                if self.peek() != Some(&Token::Close) {
                    return None;
                }
                self.at += 1;
                v
            }
            Token::Str(s) => Some(Val::new(Value::Str(s))),
            Token::Num(n) => Some(Val::new(number(&n)?)),
            Token::Ident(i) => match i.as_str() {
                "true" => Some(Val::new(Value::Bool(true))),
                "false" => Some(Val::new(Value::Bool(false))),
                "nil" => Some(Val::new(Value::Null)),
                // A function used as an argument without parentheses: not our business.
                _ => None,
            },
            Token::Field { var, path } => field(var.as_deref(), &path, dot, scope, self.vars),
            Token::Close | Token::Pipe => return None,
        })
    }
}

fn number(n: &str) -> Option<Value> {
    n.parse::<i64>()
        .map(Value::Int)
        .or_else(|_| n.parse::<f64>().map(Value::Float))
        .ok()
}

fn root() -> Val {
    Val::new(Value::Map(vec![(
        ROOT.to_string(),
        Val::new(Value::Bool(true)),
    )]))
}

/// `.` as a value: the top-level context is passed along as a marked map.
fn dot_of(v: Option<Val>) -> Dot {
    match v {
        Some(v) if v.get(ROOT).is_some() => Dot::Root,
        Some(v) => Dot::Val(v),
        None => Dot::Unknown,
    }
}

fn field(var: Option<&str>, path: &[String], dot: &Dot, scope: &Scope, vars: &Vars) -> Eval {
    let base = match var {
        None => dot.clone(),
        Some(name) => match vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => dot_of(v.clone()),
            None if name.is_empty() => Dot::Root,
            // Variables of the templates themselves are not tracked.
            None => return None,
        },
    };
    let mut keys = path.iter();
    let mut current = match base {
        Dot::Unknown => return None,
        Dot::Val(v) => v,
        Dot::Root => match keys.next().map(String::as_str) {
            None => return Some(root()),
            Some("Values") => scope.values.clone(),
            Some("Chart") => scope.chart.clone(),
            // Release, Capabilities, Template, Files: known only when installed.
            Some(_) => return None,
        },
    };
    for key in keys {
        current = match &current.value {
            Value::Map(_) => current
                .get(key)
                .cloned()
                .unwrap_or_else(|| Val::new(Value::Null)),
            // Helm prints a field of a missing value as nothing.
            Value::Null => Val::new(Value::Null),
            _ => return None,
        };
    }
    Some(current)
}

fn text_of(v: &Eval) -> Option<String> {
    v.as_ref()?.text()
}

/// A string result that keeps the origin of the value it was made from.
fn derived(from: &Val, s: String) -> Eval {
    Some(Val {
        value: Value::Str(s),
        from: from.from.clone(),
    })
}

fn truth(v: &Eval) -> Option<bool> {
    v.as_ref().map(Val::truthy)
}

fn boolean(b: bool) -> Eval {
    Some(Val::new(Value::Bool(b)))
}

fn call(f: &str, mut args: Vec<Eval>) -> Eval {
    let last = args.last().cloned().flatten();
    match (f, args.len()) {
        ("default", 2) => match truth(&args[1]) {
            Some(true) => args.pop()?,
            Some(false) => args.swap_remove(0),
            None => None,
        },
        ("quote" | "squote" | "toString" | "required", _) => {
            // The scalar a quoted value makes in YAML is the value itself.
            let v = last?;
            let t = v.text()?;
            derived(&v, t)
        }
        ("lower", 1) => derived(last.as_ref()?, text_of(&args[0])?.to_lowercase()),
        ("upper", 1) => derived(last.as_ref()?, text_of(&args[0])?.to_uppercase()),
        ("trim", 1) => derived(last.as_ref()?, text_of(&args[0])?.trim().to_string()),
        ("trimSuffix", 2) => {
            let s = text_of(&args[1])?;
            let suffix = text_of(&args[0])?;
            derived(
                last.as_ref()?,
                s.strip_suffix(&suffix).unwrap_or(&s).to_string(),
            )
        }
        ("trimPrefix", 2) => {
            let s = text_of(&args[1])?;
            let prefix = text_of(&args[0])?;
            derived(
                last.as_ref()?,
                s.strip_prefix(&prefix).unwrap_or(&s).to_string(),
            )
        }
        ("trunc", 2) => {
            let n: usize = text_of(&args[0])?.parse().ok()?;
            derived(last.as_ref()?, text_of(&args[1])?.chars().take(n).collect())
        }
        ("replace", 3) => {
            let s = text_of(&args[2])?.replace(&text_of(&args[0])?, &text_of(&args[1])?);
            derived(last.as_ref()?, s)
        }
        ("printf", n) if n >= 1 => printf(&args),
        ("not", 1) => boolean(!truth(&args[0])?),
        ("empty", 1) => boolean(!truth(&args[0])?),
        ("and", n) if n >= 1 => {
            for a in &args {
                if truth(a) == Some(false) {
                    return a.clone();
                }
            }
            if args.iter().all(|a| a.is_some()) {
                args.pop()?
            } else {
                None
            }
        }
        ("or", n) if n >= 1 => {
            for a in &args {
                if truth(a) == Some(true) {
                    return a.clone();
                }
            }
            if args.iter().all(|a| a.is_some()) {
                args.pop()?
            } else {
                None
            }
        }
        ("coalesce", _) => {
            for a in &args {
                match truth(a) {
                    Some(true) => return a.clone(),
                    Some(false) => {}
                    None => return None,
                }
            }
            Some(Val::new(Value::Null))
        }
        ("eq", n) if n >= 2 => {
            let first = args[0].as_ref()?.value.clone();
            let mut any = false;
            for a in &args[1..] {
                any |= same(&first, &a.as_ref()?.value);
            }
            boolean(any)
        }
        ("ne", 2) => boolean(!same(&args[0].as_ref()?.value, &args[1].as_ref()?.value)),
        ("hasKey", 2) => {
            let key = text_of(&args[1])?;
            match &args[0].as_ref()?.value {
                Value::Map(m) => boolean(m.iter().any(|(k, _)| *k == key)),
                _ => None,
            }
        }
        ("ternary", 3) => match truth(&args[2])? {
            true => args.swap_remove(0),
            false => args.swap_remove(1),
        },
        ("tpl", 2) => {
            // Values that hold no template render as themselves.
            let v = args.swap_remove(0)?;
            let t = v.text()?;
            (!t.contains("{{")).then_some(v)
        }
        // include, template, toYaml, nindent, semverCompare, lookup, ...: depend on more than
        // the values, or make YAML rather than a value.
        _ => None,
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => *x as f64 == *y,
        _ => a == b,
    }
}

/// `printf` with `%s`, `%v`, `%d` and `%%`.
fn printf(args: &[Eval]) -> Eval {
    let format = text_of(&args[0])?;
    let mut rest = args[1..].iter();
    let mut out = String::new();
    let mut from = None;
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            's' | 'v' | 'd' => {
                let v = rest.next()?.as_ref()?;
                from = from.or_else(|| v.from.clone());
                out.push_str(&v.text()?);
            }
            _ => return None,
        }
    }
    Some(Val {
        value: Value::Str(out),
        from,
    })
}

/// What `include "name" arg` prints, when the values decide all of it: the named template's
/// text with its actions evaluated, `{{-`/`-}}` trimming as Go does, `$x := ...` variables,
/// and `if`/`with` whose conditions the values decide. Anything else makes it unknown.
fn render_named(name: &str, arg: Eval, scope: &Scope, depth: usize) -> Eval {
    if depth > MAX_INCLUDE_DEPTH {
        return None;
    }
    let body = scope.helpers.get(name)?;
    let mut vars: Vars = vec![(String::new(), arg.clone())];
    let mut dot = dot_of(arg);
    let mut out = String::new();
    let mut from = None;
    // (parent live, a branch was taken, `.` outside)
    let mut stack: Vec<(bool, bool, Dot)> = Vec::new();
    let mut live = true;
    let mut cursor = 0;
    let mut trim_start = false;
    let actions = action::actions(body);
    for a in &actions {
        let tag = &body[a.range.clone()];
        let mut text = &body[cursor..a.range.start];
        if trim_start {
            text = text.trim_start();
        }
        if tag.starts_with("{{- ") || tag.starts_with("{{-\n") {
            text = text.trim_end();
        }
        if live {
            out.push_str(text);
        }
        trim_start = tag.ends_with(" -}}") || tag.ends_with("\n-}}");
        cursor = a.range.end;
        let truth = |p: &str, dot: &Dot, vars: &Vars| {
            eval_in(p, dot, scope, vars, depth).map(|v| v.truthy())
        };
        match &a.kind {
            Kind::Output(p) if live => {
                let v = eval_in(p, &dot, scope, &vars, depth)?;
                from = from.or_else(|| v.from.clone());
                out.push_str(&v.text()?);
            }
            Kind::Output(_) => {}
            Kind::Silent => {
                let inner = action::inner(&tag[2..tag.len() - 2]);
                if let (true, Some((lhs, rhs))) = (live, inner.split_once('=')) {
                    let name = lhs.trim_end_matches(':').trim().trim_start_matches('$');
                    let v = eval_in(rhs.trim(), &dot, scope, &vars, depth);
                    vars.push((name.to_string(), v));
                }
            }
            Kind::If(c) => {
                let t = if live { truth(c, &dot, &vars)? } else { false };
                stack.push((live, t, dot.clone()));
                live = live && t;
            }
            Kind::With(e) => {
                let v = if live {
                    Some(eval_in(e, &dot, scope, &vars, depth)?)
                } else {
                    None
                };
                let t = v.as_ref().is_some_and(Val::truthy);
                stack.push((live, t, dot.clone()));
                live = live && t;
                if live {
                    dot = dot_of(v);
                }
            }
            Kind::ElseIf(c) | Kind::ElseWith(c) => {
                let (parent, taken, outer) = stack.last()?.clone();
                dot = outer;
                let t = if parent && !taken {
                    truth(c, &dot, &vars)?
                } else {
                    false
                };
                live = parent && t;
                stack.last_mut()?.1 |= t;
                if live && matches!(a.kind, Kind::ElseWith(_)) {
                    dot = dot_of(Some(eval_in(c, &dot, scope, &vars, depth)?));
                }
            }
            Kind::Else => {
                let (parent, taken, outer) = stack.last()?.clone();
                dot = outer;
                live = parent && !taken;
                stack.last_mut()?.1 = true;
            }
            Kind::Range(_) if live => return None,
            Kind::Range(_) | Kind::Define { .. } => {
                stack.push((live, true, dot.clone()));
                live = false;
            }
            Kind::End => {
                let (parent, _, outer) = stack.pop()?;
                live = parent;
                dot = outer;
            }
        }
    }
    let mut text = &body[cursor..];
    if trim_start {
        text = text.trim_start();
    }
    if live {
        out.push_str(text);
    }
    Some(Val {
        value: Value::Str(out),
        from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn scope_eval(pipeline: &str, values: &str) -> Option<String> {
        let values = super::super::values::parse(values, &Arc::from("values.yaml")).unwrap();
        let chart =
            super::super::values::parse("AppVersion: v1.2\n", &Arc::from("Chart.yaml")).unwrap();
        let helpers = super::super::defines(
            "{{- define \"img\" -}}\n{{- $r := .Values.img.repo }}\n{{- if .Values.on }}\n{{- printf \"%s:%s\" $r (.Values.img.tag | default $.Chart.AppVersion) }}\n{{- end }}\n{{- end }}\n",
        );
        let scope = Scope {
            values: &values,
            chart: &chart,
            helpers: &helpers,
        };
        eval(pipeline, &Dot::Root, &scope).and_then(|v| v.text())
    }

    #[test]
    fn pipelines_over_values() {
        let v = "img:\n  repo: quay.io/x\n  tag:\non: true\nname: \"\"\n";
        assert_eq!(
            scope_eval(".Values.img.repo", v).as_deref(),
            Some("quay.io/x")
        );
        assert_eq!(
            scope_eval(".Values.img.tag | default .Chart.AppVersion", v).as_deref(),
            Some("v1.2")
        );
        assert_eq!(
            scope_eval("printf \"%s:%s\" .Values.img.repo \"t\"", v).as_deref(),
            Some("quay.io/x:t")
        );
        assert_eq!(
            scope_eval("and .Values.on (not .Values.name)", v).as_deref(),
            Some("true")
        );
        assert_eq!(
            scope_eval("or .Values.name .Values.missing.deeper", v).as_deref(),
            Some("")
        );
        assert_eq!(scope_eval(".Release.Namespace | quote", v), None);
        assert_eq!(scope_eval("include \"x\" .", v), None);
        assert_eq!(
            scope_eval("include \"img\" .", v).as_deref(),
            Some("quay.io/x:v1.2")
        );
        assert_eq!(
            scope_eval("eq .Values.name \"\"", v).as_deref(),
            Some("true")
        );
        assert_eq!(
            values_path(".Values.a.priorityClassName | quote", None),
            Some(vec!["a".into(), "priorityClassName".into()])
        );
        assert_eq!(
            values_path(". | quote", Some(&["a".to_string()])),
            Some(vec!["a".into()])
        );
        assert_eq!(values_path("include \"x\" .", None), None);
    }
}
