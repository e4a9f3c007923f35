//! The stable machine format. Its fields are documented in `docs/output-formats.md`; within
//! [`SCHEMA_VERSION`] fields are only ever added, never renamed or removed.

use crate::{RenderOptions, TOOL_NAME};
use pg_model::{ClusterSummary, ComponentStatus, Finding, InputProblem, Report, Severity, Stats};
use serde::Serialize;
use std::io::{self, Write};

/// Bumped only for an incompatible change, which then gets a new documented schema.
const SCHEMA_VERSION: u32 = 1;

/// The whole report as one object, borrowing from the [`Report`] so serialising a huge one
/// copies nothing.
#[derive(Serialize)]
pub(crate) struct Document<'a> {
    schema_version: u32,
    tool: Tool<'a>,
    summary: Summary,
    findings: &'a [Finding],
    components: &'a [ComponentStatus],
    problems: &'a [InputProblem],
    stats: &'a Stats,
    /// One entry per cluster of a multi-cluster run (findings and components then carry
    /// their `cluster`); absent otherwise.
    #[serde(skip_serializing_if = "<[ClusterSummary]>::is_empty")]
    clusters: &'a [ClusterSummary],
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'a str,
    version: &'a str,
}

/// The counts a script checks first, so it need not walk `findings`.
#[derive(Serialize)]
struct Summary {
    errors: usize,
    warnings: usize,
    infos: usize,
    input_errors: usize,
}

impl<'a> Document<'a> {
    pub(crate) fn new(report: &'a Report, opts: &RenderOptions) -> Self {
        Document {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: TOOL_NAME,
                version: opts.tool_version,
            },
            summary: Summary {
                errors: report.count(Severity::Error),
                warnings: report.count(Severity::Warning),
                infos: report.count(Severity::Info),
                input_errors: report.errors().count(),
            },
            findings: &report.findings,
            components: &report.components,
            problems: &report.problems,
            stats: &report.stats,
            clusters: &report.clusters,
        }
    }
}

/// Pretty-printed (2-space indent) even for big reports: the size cost is small next to the
/// pod names, and people read this output as often as scripts do.
pub(crate) fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &Document::new(report, opts))?;
    writeln!(out)
}
