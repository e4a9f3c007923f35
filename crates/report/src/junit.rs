//! JUnit XML, for the test report views of GitLab, Jenkins and Azure Pipelines.
//!
//! One test case per finding, named after the workload, classed by check. Errors and warnings
//! are `<failure>`s (problems to fix); info findings are passing cases whose message sits in
//! `<system-out>`, so `--all` does not paint a pipeline's test tab red. Unreadable inputs are
//! `<error>`s and skipped inputs `<skipped>`. A clean run still has one passing case, so CI shows
//! the audit ran. The document is small enough to write by hand with a tiny escaper, which
//! spares us an XML library.

use crate::TOOL_NAME;
use crate::order;
use crate::text;
use pg_model::{CheckInfo, Finding, InputProblem, Report, Severity};
use std::fmt::Write as _;
use std::io::{self, Write};

pub(crate) fn render(report: &Report, checks: &[CheckInfo], out: &mut dyn Write) -> io::Result<()> {
    let findings = order::sorted(report);
    let failures = findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .count();
    let errors = report.errors().count();
    let skipped = report.problems.len() - errors;
    let tests = (findings.len() + report.problems.len()).max(1);
    let counts =
        format!(r#"tests="{tests}" failures="{failures}" errors="{errors}" skipped="{skipped}""#);

    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, r#"<testsuites name="{TOOL_NAME}" {counts}>"#)?;
    writeln!(out, r#"  <testsuite name="{TOOL_NAME}" {counts}>"#)?;
    for finding in &findings {
        write_finding(out, finding, checks)?;
    }
    for problem in &report.problems {
        write_problem(out, problem)?;
    }
    if findings.is_empty() && report.problems.is_empty() {
        writeln!(
            out,
            r#"    <testcase classname="{TOOL_NAME}" name="{}"/>"#,
            escape(&format!("no findings in {}", text::scope(&report.stats)))
        )?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

fn write_finding(out: &mut dyn Write, finding: &Finding, checks: &[CheckInfo]) -> io::Result<()> {
    let mut name = finding.object.to_string();
    if let Some(location) = &finding.location {
        write!(name, " ({location})").unwrap();
    }
    write!(
        out,
        r#"    <testcase classname="{}" name="{}""#,
        finding.check,
        escape(&name)
    )?;
    if let Some(location) = &finding.location {
        write!(out, r#" file="{}""#, escape(&location.file))?;
    }
    writeln!(out, ">")?;
    let body = details(finding, checks);
    if finding.severity == Severity::Info {
        writeln!(
            out,
            "      <system-out>{}</system-out>",
            escape_content(&body)
        )?;
    } else {
        writeln!(
            out,
            r#"      <failure message="{}" type="{}">{}</failure>"#,
            escape(&finding.message),
            finding.severity,
            escape_content(&body)
        )?;
    }
    writeln!(out, "    </testcase>")
}

/// The finding in full, then what the check is about: a CI test view is often the only place
/// someone reads it.
fn details(finding: &Finding, checks: &[CheckInfo]) -> String {
    let mut s = format!("{}\n\nobject: {}", finding.message, finding.object);
    if finding.object_inferred {
        s.push_str(" (inferred from pods' ownerReferences)");
    }
    if let Some(location) = &finding.location {
        write!(s, "\nat: {location}").unwrap();
    }
    if let Some(change) = text::class_change(finding) {
        write!(s, "\nclass: {change}").unwrap();
    }
    if let Some(component) = &finding.component {
        write!(s, "\ncomponent: {}", text::component(component)).unwrap();
    }
    if !finding.pods.is_empty() {
        write!(s, "\n{}", text::pods(&finding.pods)).unwrap();
    }
    if let Some(check) = checks.iter().find(|c| c.id == finding.check) {
        write!(
            s,
            "\n\n{}: {}\n\n{}",
            check.id, check.summary, check.explanation
        )
        .unwrap();
    }
    s
}

fn write_problem(out: &mut dyn Write, problem: &InputProblem) -> io::Result<()> {
    let (element, kind) = if problem.skipped {
        ("skipped", "")
    } else {
        ("error", r#" type="input-error""#)
    };
    writeln!(
        out,
        r#"    <testcase classname="input" name="{}">"#,
        escape(&problem.source)
    )?;
    writeln!(
        out,
        r#"      <{element} message="{}"{kind}/>"#,
        escape(&problem.message)
    )?;
    writeln!(out, "    </testcase>")
}

/// Escapes an attribute value: line breaks and tabs become character references, since parsers
/// would turn them into spaces.
fn escape(text: &str) -> String {
    escape_with(text, true)
}

/// Escapes element content, where line breaks may stay as they are.
fn escape_content(text: &str) -> String {
    escape_with(text, false)
}

/// Characters XML 1.0 cannot hold at all (most control characters) become U+FFFD, and `\r`
/// is always a reference, since parsers would turn it into `\n`.
fn escape_with(text: &str, attribute: bool) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' if attribute => s.push_str("&quot;"),
            '\n' if attribute => s.push_str("&#10;"),
            '\t' if attribute => s.push_str("&#9;"),
            '\r' => s.push_str("&#13;"),
            '\n' | '\t' => s.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => s.push('\u{fffd}'),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{escape, escape_content};

    #[test]
    fn escapes_attributes() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\n\t\r\u{1}"),
            "a&lt;b &amp; &quot;c&quot; 'd'&gt;&#10;&#9;&#13;\u{fffd}"
        );
    }

    #[test]
    fn keeps_line_breaks_in_content() {
        assert_eq!(
            escape_content("a\n\"b\"\r\n<c>"),
            "a\n\"b\"&#13;\n&lt;c&gt;"
        );
    }
}
