//! Lets serde read a [`Tree`] node, so that YAML documents map to the same serde structs as
//! JSON does.
//!
//! The mapping is lenient where templates make it necessary: a `null` (a template line that was
//! set aside) reads as an empty list or map, and a scalar that held a template expression reads
//! as the expression's original text.

use crate::tree::{NodeId, NodeKind, Pos, Tree};
use saphyr_parser::ScalarStyle;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

#[derive(Debug)]
pub struct DeError {
    pub message: String,
    pub line: Option<usize>,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            line: None,
        }
    }
}

/// Supplies the text a scalar had before the input was rewritten (template placeholders).
pub trait OriginalText {
    fn original_scalar(&self, start: Pos, end: Pos, style: ScalarStyle) -> Option<&str>;
}

#[derive(Clone, Copy)]
pub struct NodeDe<'a> {
    pub tree: &'a Tree,
    pub id: NodeId,
    pub original: Option<&'a dyn OriginalText>,
}

impl<'a> NodeDe<'a> {
    fn at(self, id: NodeId) -> Self {
        NodeDe { id, ..self }
    }

    fn located(self, mut e: DeError) -> DeError {
        if e.line.is_none() {
            e.line = Some(self.tree.node(self.id).start.line);
        }
        e
    }

    /// The scalar's text, or the original template text when an expression stood there.
    fn text(self) -> Option<(&'a str, ScalarStyle)> {
        let node = self.tree.node(self.id);
        let NodeKind::Scalar { value, style } = &node.kind else {
            return None;
        };
        if let Some(original) = self
            .original
            .and_then(|x| x.original_scalar(node.start, node.end, *style))
        {
            return Some((original, ScalarStyle::DoubleQuoted));
        }
        Some((value.as_str(), *style))
    }

    fn is_null(self) -> bool {
        matches!(self.text(), Some((v, ScalarStyle::Plain)) if is_null_text(v))
    }
}

fn is_null_text(v: &str) -> bool {
    matches!(v, "" | "~" | "null" | "Null" | "NULL")
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.tree.node(self.id).kind {
            NodeKind::Seq(items) => visitor.visit_seq(Seq {
                de: self,
                items: items.iter(),
            }),
            NodeKind::Map(entries) => visitor.visit_map(Map {
                de: self,
                entries: entries.iter(),
                value: None,
                seen: HashSet::new(),
            }),
            NodeKind::Scalar { .. } => {
                let (text, style) = self.text().expect("scalar");
                if style != ScalarStyle::Plain {
                    visitor.visit_str(text)
                } else if is_null_text(text) {
                    visitor.visit_unit()
                } else if let Some(b) = parse_bool(text) {
                    visitor.visit_bool(b)
                } else if let Some(i) = parse_int(text) {
                    visitor.visit_i64(i)
                } else if let Ok(f) = text.parse::<f64>() {
                    visitor.visit_f64(f)
                } else {
                    visitor.visit_str(text)
                }
            }
        };
        result.map_err(|e| self.located(e))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.text() {
            Some((text, _)) => visitor.visit_str(text).map_err(|e| self.located(e)),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            return visitor.visit_seq(Seq {
                de: self,
                items: [].iter(),
            });
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            return visitor.visit_map(Map {
                de: self,
                entries: [].iter(),
                value: None,
                seen: HashSet::new(),
            });
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    /// Unit variants only (`role: node-agent`): all our enums are.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.text() {
            Some((text, _)) => visitor
                .visit_enum(text.into_deserializer())
                .map_err(|e: DeError| self.located(e)),
            None => Err(self.located(de::Error::custom("expected a name"))),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct newtype_struct tuple tuple_struct identifier
    }
}

/// A plain scalar's boolean as Kubernetes reads it: sigs.k8s.io/yaml (kubectl, Helm, the API
/// server's YAML) resolves scalars with go-yaml v2, which follows YAML 1.1, so `yes`, `on` and
/// `y` are true and `no`, `off` and `n` false (`globalDefault: yes` makes a global default).
/// A field that expects a string still gets the text (`deserialize_str`), as
/// sigs.k8s.io/yaml keeps it for a typed string field.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => {
            Some(false)
        }
        _ => None,
    }
}

fn parse_int(v: &str) -> Option<i64> {
    let (neg, digits) = match v.as_bytes().first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    };
    let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -magnitude } else { magnitude })
}

struct Seq<'a, I> {
    de: NodeDe<'a>,
    items: I,
}

impl<'de, 'a, I: Iterator<Item = &'a NodeId>> SeqAccess<'de> for Seq<'a, I> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(&id) => seed.deserialize(self.de.at(id)).map(Some),
            None => Ok(None),
        }
    }
}

struct Map<'a, I> {
    de: NodeDe<'a>,
    entries: I,
    value: Option<NodeId>,
    seen: HashSet<&'a str>,
}

impl<'de, 'a, I: Iterator<Item = &'a (NodeId, NodeId)>> MapAccess<'de> for Map<'a, I> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        // Templates write a key once per branch (`{% if %}name: a{% else %}name: b`); the
        // first one stands for the object.
        let (key, value) = loop {
            let Some(&(key, value)) = self.entries.next() else {
                return Ok(None);
            };
            let text = self.de.tree.scalar(key);
            if self.de.original.is_some() && text.is_some_and(|t| !self.seen.insert(t)) {
                continue;
            }
            break (key, value);
        };
        self.value = Some(value);
        // Keys are always read as text: `80: x` and `"80": x` name the same field.
        match self.de.at(key).text() {
            Some((text, _)) => seed
                .deserialize(text.into_deserializer())
                .map(Some)
                .map_err(|e: de::value::Error| DeError {
                    message: e.to_string(),
                    line: Some(self.de.tree.node(key).start.line),
                }),
            None => seed.deserialize(self.de.at(key)).map(Some),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let id = self.value.take().expect("value follows key");
        seed.deserialize(self.de.at(id))
    }
}
