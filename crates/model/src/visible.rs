//! How text that comes from inputs (workload names, annotations, file paths, parser messages
//! that quote them) is shown to people. A manifest can name a workload
//! `x\n::error file=README.md::…` and a file can be called `\e]8;;https://…\a`: printed raw,
//! the first starts a workflow command of its own in a GitHub Actions log, the second a
//! terminal hyperlink. Every human-readable output (the table, stderr, `-o github`,
//! `-o markdown`) passes such text through [`visible`]; machine formats (JSON, YAML, SARIF,
//! JUnit) escape it by their own syntax instead.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` as one line that shows every character it holds: unchanged when nothing in it is
/// invisible or moves the cursor, otherwise in double quotes with C escapes, the way git quotes
/// a path (`"a\nb"`, `"\033]8;;x\a"`, `"say \"hi\""`): `\a \b \t \n \v \f \r`, `\"`, `\\`,
/// and the octal UTF-8 bytes of any other control character (C0, DEL, C1 such as NEL), of the
/// Unicode line and paragraph separators, and of the bidirectional formatting characters that
/// reorder what a reader sees ("Trojan Source").
///
/// The result never holds a character that [`needs_escape`] flags, so applying it twice
/// changes nothing.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    out.push('"');
    for c in text.chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if needs_escape(c) => {
                let mut utf8 = [0u8; 4];
                for b in c.encode_utf8(&mut utf8).bytes() {
                    write!(out, "\\{b:03o}").expect("writing to a String");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Cow::Owned(out)
}

/// Characters that must never reach a terminal or a log as they are: control characters
/// (which include CR, LF, ESC, BEL, NUL, DEL and NEL), the Unicode line and paragraph
/// separators, and the bidirectional formatting characters.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_left_alone() {
        for text in [
            "kube-system/DaemonSet/kube-multus-ds",
            "a \"b\" c\\d",
            "ü ✓",
            "",
        ] {
            assert!(
                matches!(visible(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }

    #[test]
    fn control_characters_are_quoted_as_git_quotes_them() {
        assert_eq!(
            visible("x\n::error file=README.md::pwned"),
            "\"x\\n::error file=README.md::pwned\""
        );
        assert_eq!(
            visible("\x1b]8;;https://e.example\x07link\x1b]8;;\x07"),
            "\"\\033]8;;https://e.example\\alink\\033]8;;\\a\""
        );
        assert_eq!(visible("a\0b\rc\td\"e\\"), "\"a\\000b\\rc\\td\\\"e\\\\\"");
        assert_eq!(
            visible("a\u{85}b\u{2028}c"),
            "\"a\\302\\205b\\342\\200\\250c\""
        );
        assert_eq!(visible("\u{202e}gpj.yaml"), "\"\\342\\200\\256gpj.yaml\"");
        assert_eq!(visible("\x7f"), "\"\\177\"");
    }

    #[test]
    fn the_result_is_one_line_of_printable_text_and_stable() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            let shown = visible(&text);
            assert!(!shown.chars().any(needs_escape), "{c:?} -> {shown:?}");
            assert_eq!(visible(&shown), shown, "{c:?}");
        }
    }
}
