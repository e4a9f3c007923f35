use crate::fixture::{options, render_to_string, report};
use pg_report::Format;

const ESC: char = '\u{1b}';

#[test]
fn table_is_coloured_only_when_asked() {
    let report = report();
    assert!(!render_to_string(Format::Table, &report, &options(false)).contains(ESC));
    assert!(render_to_string(Format::Table, &report, &options(true)).contains(ESC));
}

#[test]
fn other_formats_are_never_coloured() {
    let report = report();
    for format in Format::ALL.into_iter().filter(|f| *f != Format::Table) {
        let output = render_to_string(format, &report, &options(true));
        assert!(!output.contains(ESC), "{format} output contains ESC");
    }
}

#[test]
fn table_lines_fit_in_100_columns() {
    let output = render_to_string(Format::Table, &report(), &options(false));
    for line in output.lines() {
        assert!(line.chars().count() <= 100, "too long: {line:?}");
    }
}
