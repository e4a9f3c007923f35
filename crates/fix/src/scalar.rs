//! Writing a class name as a YAML or JSON scalar.

/// Words YAML 1.1 (which Kubernetes' YAML reader follows) reads as booleans or null.
const RESERVED: &[&str] = &[
    "y", "yes", "n", "no", "on", "off", "true", "false", "null", "~",
];

/// Plain when every YAML reader reads it back as this same string, double-quoted otherwise.
pub fn yaml(s: &str) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/'))
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str());
    if plain { s.to_string() } else { json(s) }
}

/// A JSON string, which is also a valid double-quoted YAML scalar.
pub fn json(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// A single-quoted YAML scalar (the only escape is a doubled quote).
pub fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(yaml("system-node-critical"), "system-node-critical");
        assert_eq!(yaml("on"), "\"on\"");
        assert_eq!(yaml("1000"), "\"1000\"");
        assert_eq!(yaml("a: b"), "\"a: b\"");
        assert_eq!(single_quoted("it's"), "'it''s'");
    }
}
