//! The default, human format: compact like ruff or ripgrep rather than boxed, grouped by workload
//! because that is what a fix changes, and wrapped to stay readable at 100 columns.

use crate::order::{self, Group};
use crate::{RenderOptions, text};
use anstyle::{AnsiColor, Style};
use pg_model::{ComponentStatus, Finding, Report, Severity, visible};
use std::io::{self, Write};

/// The terminal width the layout is made for; longer text wraps onto indented lines.
const WIDTH: usize = 100;

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const GOOD: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();

fn severity_style(severity: Severity) -> Style {
    match severity {
        Severity::Error => AnsiColor::Red.on_default().bold(),
        Severity::Warning => AnsiColor::Yellow.on_default().bold(),
        Severity::Info => AnsiColor::Cyan.on_default().bold(),
    }
}

/// Applies styles only when the caller asked for colour (the report's table and simulate's).
pub(crate) struct Painter {
    pub(crate) color: bool,
}

impl Painter {
    pub(crate) fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

pub(crate) fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let p = Painter { color: opts.color };
    if report.clusters.is_empty() {
        for group in order::groups(report) {
            write_group(out, &p, &group)?;
            writeln!(out)?;
        }
        if opts.show_components && !report.components.is_empty() {
            let components: Vec<&ComponentStatus> = report.components.iter().collect();
            write_components(out, &p, &components)?;
            writeln!(out)?;
        }
    } else {
        write_clusters(out, &p, report, opts)?;
    }
    for problem in &report.problems {
        let label = if problem.skipped {
            p.paint(DIM, "note")
        } else {
            p.paint(BAD, "error")
        };
        writeln!(
            out,
            "{label}: {}: {}",
            visible(&problem.source),
            visible(&problem.message)
        )?;
    }
    if !report.problems.is_empty() {
        writeln!(out)?;
    }
    write_summary(out, &p, report)
}

/// A multi-cluster report: one section per cluster (its findings, its critical components and
/// its counts), in the order the clusters were named, then the clusters side by side.
///
/// ```text
/// cluster prod (https://prod.example:6443)
///   kube-system/DaemonSet/kube-multus-ds
///     error[critical-without-priority] ...
///   prod: 1 error, 0 warnings, 0 info in 3 workloads / 9 pods; 2 critical components, 1 unprotected
/// ```
fn write_clusters(
    out: &mut dyn Write,
    p: &Painter,
    report: &Report,
    opts: &RenderOptions,
) -> io::Result<()> {
    let groups = order::groups(report);
    for summary in &report.clusters {
        let cluster = &summary.cluster;
        writeln!(
            out,
            "{}",
            p.paint(BOLD, &format!("cluster {}", visible(&cluster.to_string())))
        )?;
        writeln!(out)?;
        for group in groups.iter().filter(|g| g.cluster == Some(cluster)) {
            write_group(out, p, group)?;
            writeln!(out)?;
        }
        let components: Vec<&ComponentStatus> = report
            .components
            .iter()
            .filter(|c| c.cluster.as_ref() == Some(cluster))
            .collect();
        if opts.show_components && !components.is_empty() {
            write_components(out, p, &components)?;
            writeln!(out)?;
        }
        let style = if summary.failure.is_some() { BAD } else { BOLD };
        let line = format!("{}: {}", cluster.context, text::cluster_line(summary));
        let mut lines = wrap(&visible(&line), WIDTH, WIDTH - 2).into_iter();
        writeln!(out, "{}", p.paint(style, &lines.next().unwrap_or_default()))?;
        for line in lines {
            writeln!(out, "  {line}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "{}", p.paint(BOLD, "Clusters"))?;
    let width = report
        .clusters
        .iter()
        .map(|c| visible(&c.cluster.context).chars().count())
        .max()
        .unwrap_or(0);
    for summary in &report.clusters {
        let mark = if summary.failure.is_some() || summary.errors > 0 || summary.unprotected > 0 {
            p.paint(BAD, "✗")
        } else {
            p.paint(GOOD, "✓")
        };
        let context = visible(&summary.cluster.context);
        let pad = " ".repeat(width - context.chars().count());
        let server = if summary.cluster.server.is_empty() {
            String::new()
        } else {
            format!(" {}", visible(&summary.cluster.server))
        };
        writeln!(out, "  {mark} {context}{pad}{server}")?;
        for line in wrap(&visible(&text::cluster_line(summary)), WIDTH - 6, WIDTH - 6) {
            writeln!(out, "      {line}")?;
        }
    }
    writeln!(out)
}

fn write_group(out: &mut dyn Write, p: &Painter, group: &Group<'_>) -> io::Result<()> {
    write!(
        out,
        "{}",
        p.paint(BOLD, &visible(&group.object.to_string()))
    )?;
    if group.inferred() {
        write!(
            out,
            " {}",
            p.paint(DIM, "(inferred from pods' ownerReferences)")
        )?;
    }
    writeln!(out)?;
    for finding in &group.findings {
        write_finding(out, p, finding)?;
    }
    Ok(())
}

/// ```text
///   error[critical-without-priority] Multus has no priorityClassName ...
///     at deploy/multus.yaml:12:7
///     class: none -> system-node-critical
///     component: Multus (node-agent), matched by image ghcr.io/...
///     7 pods: a, b, c, d, e (+2 more)
///     risk: evicted 3rd of 41 under memory pressure on node-a; immune after fix
///     managed by Helm release kube-system/multus: set the class in the chart's values, ...
/// ```
fn write_finding(out: &mut dyn Write, p: &Painter, finding: &Finding) -> io::Result<()> {
    let label = format!("{}[{}]", finding.severity, finding.check);
    let first_width = WIDTH.saturating_sub(2 + label.len() + 1);
    let mut lines = wrap(&visible(&finding.message), first_width, WIDTH - 6).into_iter();
    writeln!(
        out,
        "  {} {}",
        p.paint(severity_style(finding.severity), &label),
        lines.next().unwrap_or_default()
    )?;
    for line in lines {
        writeln!(out, "      {line}")?;
    }
    if let Some(location) = &finding.location {
        write_detail(out, p, "at", &location.to_string())?;
    }
    if let Some(change) = text::class_change(finding) {
        write_detail(out, p, "class:", &change)?;
    }
    if let Some(component) = &finding.component {
        write_detail(out, p, "component:", &text::component(component))?;
    }
    if !finding.pods.is_empty() {
        let count = format!("{}:", text::pod_count(&finding.pods));
        write_detail(out, p, &count, &text::pod_names(&finding.pods))?;
    }
    if let Some(risk) = &finding.risk {
        write_detail(out, p, "risk:", risk)?;
    }
    if let Some(managed_by) = &finding.managed_by {
        write_detail(out, p, "managed by", &managed_by.to_string())?;
    }
    Ok(())
}

/// One indented `key value` line under a finding, the value (which names things from the
/// inputs) escaped and wrapped below the key.
fn write_detail(out: &mut dyn Write, p: &Painter, key: &str, value: &str) -> io::Result<()> {
    let first_width = WIDTH.saturating_sub(4 + key.len() + 1);
    let mut lines = wrap(&visible(value), first_width, WIDTH - 6).into_iter();
    writeln!(
        out,
        "    {} {}",
        p.paint(DIM, key),
        lines.next().unwrap_or_default()
    )?;
    for line in lines {
        writeln!(out, "      {line}")?;
    }
    Ok(())
}

/// Every critical workload found, unprotected ones first: the answer to "which of my workloads
/// matter, and are they protected?" even when they have no finding.
///
/// ```text
///   ✗ kube-system/DaemonSet/kube-multus-ds (Multus): no priorityClassName, needs system-node-critical
///   ✓ kube-system/Deployment/coredns (CoreDNS): system-cluster-critical
/// ```
fn write_components(
    out: &mut dyn Write,
    p: &Painter,
    components: &[&ComponentStatus],
) -> io::Result<()> {
    writeln!(out, "{}", p.paint(BOLD, "Critical components"))?;
    let mut components: Vec<_> = components
        .iter()
        .map(|c| (*c, c.object.to_string()))
        .collect();
    components.sort_by(|(a, a_name), (b, b_name)| {
        a.protected
            .cmp(&b.protected)
            .then_with(|| a_name.cmp(b_name))
    });
    for (status, object) in &components {
        let class = text::class_ref(&status.class);
        let (mark, line) = if status.protected {
            (
                p.paint(GOOD, "✓"),
                format!("{object} ({}): {class}", status.component.name),
            )
        } else {
            (
                p.paint(BAD, "✗"),
                format!(
                    "{object} ({}): {class}, needs {}",
                    status.component.name, status.component.recommended_class
                ),
            )
        };
        let mut lines = wrap(&visible(&line), WIDTH - 4, WIDTH - 6).into_iter();
        writeln!(out, "  {mark} {}", lines.next().unwrap_or_default())?;
        for line in lines {
            writeln!(out, "      {line}")?;
        }
    }
    Ok(())
}

/// ```text
/// 3 errors, 1 warning, 0 info in 12 workloads / 40 pods from 5 files
/// hint: run `priorityguard catalog --explain <id>` for details
/// ```
fn write_summary(out: &mut dyn Write, p: &Painter, report: &Report) -> io::Result<()> {
    let mut scope = text::scope(&report.stats);
    if !report.clusters.is_empty() {
        scope.push_str(" in ");
        scope.push_str(&text::clusters(report));
    }
    let mut summary = if report.findings.is_empty() {
        p.paint(GOOD, &format!("no findings in {scope}"))
    } else {
        p.paint(
            BOLD,
            &format!("{} in {scope}", text::severity_counts(report)),
        )
    };
    let input_errors = report.errors().count() as u64;
    if input_errors > 0 {
        summary.push_str("; ");
        summary.push_str(&p.paint(
            BAD,
            &text::count(input_errors, "input error", "input errors"),
        ));
    }
    writeln!(out, "{summary}")?;
    if !report.findings.is_empty() {
        writeln!(
            out,
            "{} run `priorityguard catalog --explain <id>` for details",
            p.paint(BOLD, "hint:")
        )?;
    }
    Ok(())
}

/// Greedy word wrap: the first line gets `first` columns, the others `rest`. Runs of whitespace
/// become one space; a word longer than a line gets a line of its own.
fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        let word_len = word.chars().count();
        let width = if lines.is_empty() { first } else { rest };
        if line_len > 0 && line_len + 1 + word_len > width {
            lines.push(std::mem::take(&mut line));
            line_len = 0;
        }
        if line_len > 0 {
            line.push(' ');
            line_len += 1;
        }
        line.push_str(word);
        line_len += word_len;
    }
    if line_len > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_word_boundaries() {
        assert_eq!(
            wrap("aaa bbb ccc ddd", 7, 11),
            ["aaa bbb", "ccc ddd"].map(String::from)
        );
        assert_eq!(wrap("", 10, 10), [String::new()]);
        assert_eq!(
            wrap("averyveryverylongword x", 5, 5),
            ["averyveryverylongword", "x"].map(String::from)
        );
    }
}
