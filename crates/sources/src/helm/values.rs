//! A chart's values as Helm sees them: `values.yaml`, the parent chart's overrides and the
//! `--values` files merged the way `helm template -f` merges them, each value remembering the
//! file and line it was written at.

use pg_model::Location;
use pg_yaml::{NodeId, NodeKind, ScalarStyle, Tree};
use std::path::Path;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Val>),
    Map(Vec<(String, Val)>),
}

/// A value and where it was written (`None` for values a template made up itself).
#[derive(Clone, Debug, PartialEq)]
pub struct Val {
    pub value: Value,
    pub from: Option<Location>,
}

impl Val {
    pub fn new(value: Value) -> Val {
        Val { value, from: None }
    }

    pub fn empty_map() -> Val {
        Val::new(Value::Map(Vec::new()))
    }

    pub fn get(&self, key: &str) -> Option<&Val> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Go templates' truth: false, 0, nil and empty strings and collections are false.
    pub fn truthy(&self) -> bool {
        match &self.value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }

    /// The text Go's `{{ . }}` prints for a scalar; `None` for collections.
    pub fn text(&self) -> Option<String> {
        Some(match &self.value {
            // Helm prints a missing value as nothing.
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => s.clone(),
            Value::List(_) | Value::Map(_) => return None,
        })
    }

    /// Helm's coalescing: `over` wins, maps merge key by key, a `null` in `over` deletes.
    pub fn merge(&mut self, over: &Val) {
        match (&mut self.value, &over.value) {
            (Value::Map(base), Value::Map(new)) => {
                for (k, v) in new {
                    match base.iter().position(|(bk, _)| bk == k) {
                        Some(i) if v.value == Value::Null => {
                            base.remove(i);
                        }
                        Some(i) => base[i].1.merge(v),
                        None if v.value == Value::Null => {}
                        None => base.push((k.clone(), v.clone())),
                    }
                }
            }
            _ => *self = over.clone(),
        }
    }
}

/// Why a values file could not be read.
#[derive(Debug)]
pub struct ValuesError {
    pub source: String,
    pub message: String,
}

/// The first document of a values file (an empty file is an empty map).
pub fn read(path: &Path) -> Result<Val, ValuesError> {
    let name: Arc<str> = path.display().to_string().into();
    let text = std::fs::read_to_string(path).map_err(|e| ValuesError {
        source: name.to_string(),
        message: format!("cannot read values: {}", crate::file::describe_io_error(&e)),
    })?;
    parse(&text, &name)
}

pub fn parse(text: &str, name: &Arc<str>) -> Result<Val, ValuesError> {
    let mut first = None;
    pg_yaml::parse_stream(text, |unit| {
        if first.is_none() {
            first = Some(convert(unit.tree, unit.root, name));
        }
    })
    .map_err(|e| ValuesError {
        source: format!("{name}:{}:{}", e.line, e.col),
        message: format!("invalid YAML in chart values: {}", e.message),
    })?;
    Ok(match first {
        Some(v) if matches!(v.value, Value::Map(_)) => v,
        _ => Val::empty_map(),
    })
}

fn convert(tree: &Tree, id: NodeId, name: &Arc<str>) -> Val {
    let node = tree.node(id);
    let from = Some(Location {
        file: name.clone(),
        line: node.start.line as u32,
        column: node.start.col as u32 + 1,
    });
    let value = match &node.kind {
        NodeKind::Scalar { value, style } => scalar(value, *style),
        NodeKind::Seq(items) => {
            Value::List(items.iter().map(|&i| convert(tree, i, name)).collect())
        }
        NodeKind::Map(entries) => Value::Map(
            entries
                .iter()
                .filter_map(|&(k, v)| Some((tree.scalar(k)?.to_string(), convert(tree, v, name))))
                .collect(),
        ),
    };
    Val { value, from }
}

/// A scalar typed as Helm reads values (sigs.k8s.io/yaml over go-yaml v2: YAML 1.1 booleans,
/// so `enabled: yes` is true; checked with helm 3 and 4 `kindOf`).
fn scalar(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::Str(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        _ => {
            if let Some(b) = pg_yaml::parse_bool(text) {
                Value::Bool(b)
            } else if let Ok(i) = text.parse::<i64>() {
                Value::Int(i)
            } else if let Ok(f) = text.parse::<f64>()
                && text.bytes().any(|b| b.is_ascii_digit())
            {
                Value::Float(f)
            } else {
                Value::Str(text.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(text: &str) -> Val {
        parse(text, &Arc::from("v.yaml")).unwrap()
    }

    #[test]
    fn overrides_merge_and_remember_their_line() {
        let mut base = val("a:\n  b: 1\n  c: \"\"\nd: [1]\n");
        base.merge(&val("a:\n  c: x\nd: null\n"));
        let c = base.get("a").unwrap().get("c").unwrap();
        assert_eq!(c.value, Value::Str("x".into()));
        assert_eq!(c.from.as_ref().unwrap().line, 2);
        assert_eq!(
            base.get("a").unwrap().get("b").unwrap().value,
            Value::Int(1)
        );
        assert!(base.get("d").is_none());
        assert!(!val("x: \"\"\n").get("x").unwrap().truthy());
        assert!(!val("x: {}\n").get("x").unwrap().truthy());
    }

    #[test]
    fn yaml_1_1_booleans_as_helm_reads_them() {
        let v = val("a: yes\nb: off\nc: y\nd: \"yes\"\ne: yess\n");
        let kind = |k: &str| v.get(k).unwrap().value.clone();
        assert_eq!(kind("a"), Value::Bool(true));
        assert_eq!(kind("b"), Value::Bool(false));
        assert_eq!(kind("c"), Value::Bool(true));
        assert_eq!(kind("d"), Value::Str("yes".into()));
        assert_eq!(kind("e"), Value::Str("yess".into()));
    }
}
