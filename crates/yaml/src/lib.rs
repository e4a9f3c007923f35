//! YAML for priorityguard: a tree whose nodes keep their positions ([`tree`]) and a serde
//! deserializer over it ([`de`]), so that manifests, the catalog and policy files are all read
//! by one parser with the same limits.

pub mod de;
pub mod tree;

pub use de::{DeError, NodeDe, OriginalText, parse_bool};
pub use saphyr_parser::ScalarStyle;
pub use tree::{NodeId, NodeKind, Pos, Tree, Unit, YamlError, parse_stream};

/// Reads a small YAML file (configuration, not manifests) with serde: the first document.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let mut result: Option<Result<T, String>> = None;
    parse_stream(text, |unit| {
        if result.is_none() {
            let de = NodeDe {
                tree: unit.tree,
                id: unit.root,
                original: None,
            };
            result = Some(T::deserialize(de).map_err(|e| match e.line {
                Some(line) => format!("line {line}: {e}"),
                None => e.to_string(),
            }));
        }
    })
    .map_err(|e| format!("line {}:{}: {}", e.line, e.col, e.message))?;
    result.unwrap_or_else(|| Err("empty document".into()))
}
