//! A Markdown summary for pull-request comments and `$GITHUB_STEP_SUMMARY`: a heading with the
//! counts, one table row per finding, the messages folded away under `<details>`, and the input
//! problems.

use crate::{order, text};
use pg_model::{ClusterSummary, Finding, Report, visible};
use std::io::{self, Write};

/// GitHub refuses step summaries over 1 MiB; this many rows (and their details) stays well
/// below that, and nobody reads further in a comment anyway.
const MAX_ROWS: usize = 500;

pub(crate) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let findings = order::sorted(report);
    if findings.is_empty() {
        writeln!(out, "## priorityguard: no findings")?;
    } else {
        writeln!(out, "## priorityguard: {}", text::severity_counts(report))?;
    }
    writeln!(out)?;
    write!(out, "Audited {}", text::scope(&report.stats))?;
    if !report.clusters.is_empty() {
        write!(out, " in {}", text::clusters(report))?;
    }
    let input_errors = report.errors().count() as u64;
    if input_errors > 0 {
        write!(
            out,
            "; {} could not be read",
            text::count(input_errors, "input", "inputs")
        )?;
    }
    writeln!(out, ".")?;

    if !report.clusters.is_empty() {
        writeln!(out)?;
        write_clusters(out, &report.clusters)?;
    }

    let shown = &findings[..findings.len().min(MAX_ROWS)];
    if !shown.is_empty() {
        writeln!(out)?;
        write_table(out, shown)?;
        if findings.len() > shown.len() {
            writeln!(out)?;
            writeln!(
                out,
                "…and {} more; run `priorityguard audit -o json` for all of them.",
                findings.len() - shown.len()
            )?;
        }
        writeln!(out)?;
        write_details(out, shown)?;
    }

    if !report.problems.is_empty() {
        writeln!(out)?;
        writeln!(out, "**Input problems**")?;
        writeln!(out)?;
        for problem in &report.problems {
            writeln!(
                out,
                "- {} {}: {}",
                if problem.skipped { "skipped" } else { "error" },
                code(&problem.source),
                escape(&problem.message)
            )?;
        }
    }

    if !findings.is_empty() {
        writeln!(out)?;
        write!(
            out,
            "Run `priorityguard catalog --explain <id>` for what a check means"
        )?;
        writeln!(out, ".")?;
    }
    Ok(())
}

/// One row per cluster of a multi-cluster run.
fn write_clusters(out: &mut dyn Write, clusters: &[ClusterSummary]) -> io::Result<()> {
    writeln!(
        out,
        "| Cluster | Server | Errors | Warnings | Info | Critical components | Unprotected | Status |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- | --- | --- |")?;
    for c in clusters {
        let status = match &c.failure {
            Some(failure) => format!("not read: {}", escape(failure)),
            None => "read".to_string(),
        };
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {status} |",
            code(&c.cluster.context),
            code(&c.cluster.server),
            c.errors,
            c.warnings,
            c.infos,
            c.components,
            c.unprotected
        )?;
    }
    Ok(())
}

fn write_table(out: &mut dyn Write, findings: &[&Finding]) -> io::Result<()> {
    // A multi-cluster report names each finding's cluster in a first column.
    let clusters = findings.iter().any(|f| f.cluster.is_some());
    if clusters {
        write!(out, "| Cluster ")?;
    }
    writeln!(
        out,
        "| Severity | Check | Workload | Location | Class | Recommended |"
    )?;
    if clusters {
        write!(out, "| --- ")?;
    }
    writeln!(out, "| --- | --- | --- | --- | --- | --- |")?;
    for finding in findings {
        if let Some(cluster) = &finding.cluster {
            write!(out, "| {} ", code(&cluster.context))?;
        } else if clusters {
            write!(out, "| ")?;
        }
        let mut workload = code(&finding.object.to_string());
        if finding.object_inferred {
            workload.push_str(" (inferred)");
        }
        let location = finding
            .location
            .as_ref()
            .map(|l| code(&l.to_string()))
            .unwrap_or_default();
        let class = match (&finding.current_class, &finding.recommended_class) {
            (Some(class), _) => code(class),
            (None, Some(_)) => "none".to_string(),
            (None, None) => String::new(),
        };
        let recommended = finding
            .recommended_class
            .as_deref()
            .map(code)
            .unwrap_or_default();
        writeln!(
            out,
            "| {} | {} | {workload} | {location} | {class} | {recommended} |",
            finding.severity,
            code(finding.check.as_str())
        )?;
    }
    Ok(())
}

/// The messages, which are too long for table cells.
fn write_details(out: &mut dyn Write, findings: &[&Finding]) -> io::Result<()> {
    writeln!(out, "<details>")?;
    writeln!(out, "<summary>Details</summary>")?;
    writeln!(out)?;
    for finding in findings {
        write!(out, "- ")?;
        if let Some(cluster) = &finding.cluster {
            write!(out, "{} ", code(&cluster.context))?;
        }
        write!(
            out,
            "{} {}: {}",
            code(&finding.object.to_string()),
            code(finding.check.as_str()),
            escape(&finding.message)
        )?;
        writeln!(out)?;
        if let Some(component) = &finding.component {
            writeln!(
                out,
                "  - component: {}",
                escape(&text::component(component))
            )?;
        }
        if !finding.pods.is_empty() {
            writeln!(out, "  - {}", escape(&text::pods(&finding.pods)))?;
        }
        if let Some(risk) = &finding.risk {
            writeln!(out, "  - risk: {}", escape(risk))?;
        }
        if let Some(managed_by) = &finding.managed_by {
            writeln!(out, "  - managed by {}", escape(&managed_by.to_string()))?;
        }
    }
    writeln!(out)?;
    writeln!(out, "</details>")
}

/// A code span that survives inside a table cell: the text is made [`visible`] (no line
/// break or control character), the fence is longer than any run of backticks in it, and `|`
/// is escaped (GitHub splits cells on it even inside code).
fn code(text: &str) -> String {
    let text = visible(text);
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    let text = text.replace('|', "\\|");
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Plain text made [`visible`], with Markdown's and HTML's active characters escaped.
fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in visible(text).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&' => {
                s.push('\\');
                s.push(c);
            }
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_escape_pipes_and_backticks() {
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a"), "`` `a ``");
    }

    #[test]
    fn text_escapes_markdown() {
        assert_eq!(escape("*a* | <b> c"), "\\*a\\* \\| \\<b\\> c");
    }

    #[test]
    fn control_characters_are_shown_not_passed_on() {
        assert_eq!(code("a\nb"), "`\"a\\nb\"`");
        assert_eq!(escape("a\x1b[31m\0"), "\"a\\\\033\\[31m\\\\000\"");
    }
}
