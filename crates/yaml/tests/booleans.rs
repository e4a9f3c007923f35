//! YAML 1.1 booleans as sigs.k8s.io/yaml (go-yaml v2) reads them: `yes`/`on`/`y` true,
//! `no`/`off`/`n` false for a boolean field; a string field keeps the text; quoted is a string.

use serde::Deserialize;

#[derive(Deserialize, Debug, PartialEq)]
struct Fields {
    flag: bool,
    text: String,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(untagged)]
enum Any {
    Bool(bool),
    Int(i64),
    Str(String),
}

fn read(flag: &str, text: &str) -> Fields {
    pg_yaml::from_str(&format!("flag: {flag}\ntext: {text}\n")).expect("valid YAML")
}

#[test]
fn yaml_1_1_words_are_booleans_for_a_boolean_field() {
    for word in [
        "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y",
    ] {
        assert!(read(word, "x").flag, "{word} should be true");
    }
    for word in [
        "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N",
    ] {
        assert!(!read(word, "x").flag, "{word} should be false");
    }
}

#[test]
fn a_string_field_keeps_the_word() {
    for word in ["yes", "no", "on", "off", "y", "n"] {
        assert_eq!(read("true", word).text, word);
    }
}

#[test]
fn untyped_values_resolve_as_kubectl_resolves_them() {
    let any = |text: &str| -> Any { pg_yaml::from_str(text).expect("valid YAML") };
    assert_eq!(any("yes"), Any::Bool(true));
    assert_eq!(any("off"), Any::Bool(false));
    assert_eq!(any("\"yes\""), Any::Str("yes".into()));
    assert_eq!(any("'on'"), Any::Str("on".into()));
    assert_eq!(any("yess"), Any::Str("yess".into()));
    assert_eq!(any("12"), Any::Int(12));
}

#[test]
fn a_quoted_word_is_not_a_boolean() {
    let quoted: Result<Fields, String> = pg_yaml::from_str("flag: \"yes\"\ntext: x\n");
    assert!(
        quoted.is_err(),
        "a quoted \"yes\" is a string, not a boolean"
    );
}
