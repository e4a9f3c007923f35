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

/// One `<testsuite>`: the whole audit, or one cluster of a multi-cluster run.
struct Suite<'a> {
    name: String,
    findings: Vec<&'a Finding>,
    problems: Vec<&'a InputProblem>,
    /// A cluster that could not be read: the suite's one (error) case.
    failure: Option<(String, &'a str)>,
    /// Named by the passing case of a clean suite.
    clean: String,
}

impl Suite<'_> {
    fn counts(&self) -> (usize, usize, usize, usize) {
        let failures = self
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .count();
        let errors = self.problems.iter().filter(|p| !p.skipped).count()
            + usize::from(self.failure.is_some());
        let skipped = self.problems.iter().filter(|p| p.skipped).count();
        let tests =
            (self.findings.len() + self.problems.len() + usize::from(self.failure.is_some()))
                .max(1);
        (tests, failures, errors, skipped)
    }
}

fn counts_text((tests, failures, errors, skipped): (usize, usize, usize, usize)) -> String {
    format!(r#"tests="{tests}" failures="{failures}" errors="{errors}" skipped="{skipped}""#)
}

pub(crate) fn render(report: &Report, checks: &[CheckInfo], out: &mut dyn Write) -> io::Result<()> {
    let findings = order::sorted(report);
    let suites = if report.clusters.is_empty() {
        vec![Suite {
            name: TOOL_NAME.to_string(),
            findings,
            problems: report.problems.iter().collect(),
            failure: None,
            clean: format!("no findings in {}", text::scope(&report.stats)),
        }]
    } else {
        cluster_suites(report, findings)
    };
    let total = suites.iter().map(Suite::counts).fold((0, 0, 0, 0), |a, b| {
        (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3)
    });

    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="{TOOL_NAME}" {}>"#,
        counts_text(total)
    )?;
    for suite in &suites {
        writeln!(
            out,
            r#"  <testsuite name="{}" {}>"#,
            escape(&suite.name),
            counts_text(suite.counts())
        )?;
        for finding in &suite.findings {
            write_finding(out, finding, checks)?;
        }
        for problem in &suite.problems {
            write_problem(out, problem)?;
        }
        if let Some((name, reason)) = &suite.failure {
            writeln!(
                out,
                r#"    <testcase classname="cluster" name="{}">"#,
                escape(name)
            )?;
            writeln!(
                out,
                r#"      <error message="{}" type="cluster-error"/>"#,
                escape(reason)
            )?;
            writeln!(out, "    </testcase>")?;
        }
        if suite.findings.is_empty() && suite.problems.is_empty() && suite.failure.is_none() {
            writeln!(
                out,
                r#"    <testcase classname="{TOOL_NAME}" name="{}"/>"#,
                escape(&suite.clean)
            )?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

/// A multi-cluster report: one suite per cluster (named `priorityguard: CONTEXT`), then one
/// for the input problems, when there are any besides the clusters that were not read.
fn cluster_suites<'a>(report: &'a Report, findings: Vec<&'a Finding>) -> Vec<Suite<'a>> {
    let mut suites: Vec<Suite<'a>> = report
        .clusters
        .iter()
        .map(|c| Suite {
            name: format!("{TOOL_NAME}: {}", c.cluster.context),
            findings: findings
                .iter()
                .filter(|f| f.cluster.as_ref() == Some(&c.cluster))
                .copied()
                .collect(),
            problems: Vec::new(),
            failure: c
                .failure
                .as_deref()
                .map(|reason| (c.cluster.to_string(), reason)),
            clean: format!("no findings in {}", text::cluster_line(c)),
        })
        .collect();
    let failed: Vec<String> = report
        .clusters
        .iter()
        .filter(|c| c.failure.is_some())
        .map(|c| Report::failed_cluster_source(&c.cluster))
        .collect();
    let problems: Vec<&InputProblem> = report
        .problems
        .iter()
        .filter(|p| p.skipped || !failed.contains(&p.source))
        .collect();
    if !problems.is_empty() {
        suites.push(Suite {
            name: format!("{TOOL_NAME}: inputs"),
            findings: Vec::new(),
            problems,
            failure: None,
            clean: String::new(),
        });
    }
    suites
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
