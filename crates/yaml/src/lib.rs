//! YAML for priorityguard: a tree whose nodes keep their positions ([`tree`]), a serde
//! deserializer over it ([`de`]) and a writer ([`write`]), so that every YAML input (manifests,
//! the catalog, policy files, simulator snapshots) is read by one parser with the same limits,
//! and every YAML output quotes scalars by one rule.

pub mod de;
pub mod tree;
pub mod write;

pub use de::{DeError, NodeDe, OriginalText, parse_bool};
pub use saphyr_parser::ScalarStyle;
pub use tree::{NodeId, NodeKind, Pos, Tree, Unit, YamlError, parse_documents, parse_stream};

use std::fmt;
use std::ops::ControlFlow;

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

/// Why [`read_each`] stopped: where, and what was wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub line: usize,
    /// Known for syntax errors; a value of the wrong type is placed by its line only.
    pub col: Option<usize>,
    pub message: String,
}

/// `line:col` or `line`, for a caller to put its file name in front of.
impl ReadError {
    pub fn position(&self) -> String {
        match self.col {
            Some(col) => format!("{}:{col}", self.line),
            None => self.line.to_string(),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.position(), self.message)
    }
}

impl std::error::Error for ReadError {}

/// Reads every document of a stream with serde, each item of a `kind: List` as a value of its
/// own (before the list, which then holds none, so a huge list is never whole in memory),
/// until `each` breaks or a value does not fit `T`. Documents after that are still parsed (a
/// syntax error anywhere is reported) but not deserialized.
pub fn read_each<T: serde::de::DeserializeOwned>(
    text: &str,
    mut each: impl FnMut(T) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    let mut outcome = ControlFlow::Continue(());
    let mut failed: Option<ReadError> = None;
    let parsed = parse_stream(text, |unit| {
        if outcome.is_break() || failed.is_some() {
            return;
        }
        let de = NodeDe {
            tree: unit.tree,
            id: unit.root,
            original: None,
        };
        match T::deserialize(de) {
            Ok(value) => outcome = each(value),
            Err(e) => {
                failed = Some(ReadError {
                    line: e
                        .line
                        .unwrap_or_else(|| unit.tree.node(unit.root).start.line),
                    col: None,
                    message: e.message,
                })
            }
        }
    });
    // The first error in the text wins: a bad value comes before a later syntax error.
    if let Some(e) = failed {
        return Err(e);
    }
    parsed.map_err(|e| ReadError {
        line: e.line,
        col: Some(e.col),
        message: e.message,
    })
}
