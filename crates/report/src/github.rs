//! GitHub Actions workflow commands: each line becomes an annotation on the run and, for files
//! in the pull request, on the changed line itself.
//!
//! Cluster findings have no file, so they carry none and show on the run's summary only. Inputs
//! that could not be read are errors too; skipped inputs go to the debug log, visible only when
//! a run is re-run with debug logging.

use crate::text;
use pg_model::{Finding, Report, Severity, visible};
use std::io::{self, Write};

pub(crate) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for finding in &report.findings {
        write_finding(out, finding)?;
    }
    // A multi-cluster run: one notice per cluster that was read (one that was not is an
    // input error below).
    for summary in report.clusters.iter().filter(|c| c.failure.is_none()) {
        writeln!(
            out,
            "::notice title={}::{}",
            escape_property(&format!("priorityguard: cluster {}", summary.cluster)),
            escape_data(&text::cluster_line(summary))
        )?;
    }
    for problem in &report.problems {
        let text = format!("{}: {}", problem.source, problem.message);
        if problem.skipped {
            writeln!(out, "::debug::{}", escape_data(&text))?;
        } else {
            writeln!(
                out,
                "::error title={}::{}",
                escape_property("priorityguard: input error"),
                escape_data(&text)
            )?;
        }
    }
    Ok(())
}

/// `::error file=F,line=L,col=C,title=ID::object: message`, and on a second line (`%0A`)
/// the tool that deploys the workload, when one does.
fn write_finding(out: &mut dyn Write, finding: &Finding) -> io::Result<()> {
    let command = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    write!(out, "::{command} ")?;
    if let Some(location) = &finding.location {
        write!(
            out,
            "file={},line={},col={},",
            escape_property(&location.file.replace('\\', "/")),
            location.line,
            location.column
        )?;
    }
    write!(
        out,
        "title={}::{}",
        escape_property(finding.check.as_str()),
        escape_data(&match &finding.cluster {
            Some(cluster) => format!(
                "[{}] {}: {}",
                cluster.context, finding.object, finding.message
            ),
            None => format!("{}: {}", finding.object, finding.message),
        })
    )?;
    if let Some(managed_by) = &finding.managed_by {
        write!(
            out,
            "%0A{}",
            escape_data(&format!("managed by {managed_by}"))
        )?;
    }
    writeln!(out)
}

/// The message part of a command: CR and LF would end it and start a command of the input's
/// choosing, and ESC, NUL or BEL would reach the log as they are, so the text is made
/// [`visible`] (which leaves no control character at all); `%` starts the runner's own escapes.
fn escape_data(text: &str) -> String {
    visible(text).replace('%', "%25")
}

/// A property value, where `:` and `,` also separate things.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_escapes_percent_and_shows_control_characters() {
        assert_eq!(escape_data("100% ok: a,b"), "100%25 ok: a,b");
        assert_eq!(
            escape_data("x\r\n::error::\x1b[2J\0"),
            "\"x\\r\\n::error::\\033[2J\\000\""
        );
    }

    #[test]
    fn property_also_escapes_colon_and_comma() {
        assert_eq!(escape_property("C:/a,b%"), "C%3A/a%2Cb%25");
    }

    #[test]
    fn percent_is_escaped_first() {
        // Escaping `%` after the others would double-escape their `%`.
        assert_eq!(escape_property(":"), "%3A");
        assert_eq!(escape_data("%0A"), "%250A");
    }
}
