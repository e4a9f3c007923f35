use crate::args::{AuditArgs, ClusterArgs, FailOn, InputArgs};
use crate::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, output};
use anyhow::Context;
use pg_catalog::{Catalog, Policy};
use pg_checks::Config;
use pg_model::{InputProblem, Report, Severity, visible};
use pg_report::{Format, RenderOptions};
use pg_sources::{Input, Loaded, Options};
use std::io::{IsTerminal, Write};

pub fn load_policy(path: Option<&std::path::Path>) -> anyhow::Result<(Policy, Catalog)> {
    let policy = match path {
        Some(p) => Policy::from_file(p).context("cannot use the policy file")?,
        None => Policy::default(),
    };
    let mut catalog = Catalog::builtin();
    catalog
        .apply(&policy)
        .context("cannot use the policy file")?;
    Ok((policy, catalog))
}

/// Reads the files or the cluster, printing each problem on stderr as one line. Only the
/// labels that `catalog` and the checks look at are kept.
pub fn load_inputs(input: &InputArgs, catalog: &Catalog) -> anyhow::Result<Loaded> {
    let keep_labels = pg_checks::labels_read(catalog);
    let loaded = if input.cluster.cluster {
        pg_cluster::load_keeping_labels(&cluster_options(&input.cluster), Some(&keep_labels))?
    } else {
        let inputs: Vec<Input> = input.paths.iter().map(|p| Input::parse(p)).collect();
        pg_sources::load(
            &inputs,
            &Options {
                max_yaml_bytes: input.max_yaml_size.saturating_mul(1 << 20),
                keep_labels: Some(keep_labels.into()),
                values: input.values.clone(),
                follow: input.walk.follow,
                inventory: input.walk.inventory.clone(),
            },
        )
    };
    if input.walk.verbose {
        for p in &loaded.quiet {
            print_problem(p);
        }
    }
    for p in &loaded.problems {
        print_problem(p);
    }
    Ok(loaded)
}

pub fn cluster_options(c: &ClusterArgs) -> pg_cluster::ClusterOptions {
    pg_cluster::ClusterOptions {
        kubeconfig: c.kubeconfig.clone(),
        context: c.context.clone(),
        namespace: c.namespace.clone(),
        progress: std::io::stderr().is_terminal(),
    }
}

fn print_problem(p: &InputProblem) {
    let level = if p.skipped { "note" } else { "error" };
    eprintln!("{level}: {}: {}", visible(&p.source), visible(&p.message));
}

pub fn run(a: AuditArgs) -> anyhow::Result<u8> {
    let (policy, catalog) = load_policy(a.policy.as_deref())?;
    let mut loaded = load_inputs(&a.input, &catalog)?;
    let config = Config::new(a.all, &policy);
    let mut audit = pg_checks::audit(&loaded.objects, &catalog, &config);
    drop(std::mem::take(&mut loaded.objects));
    crate::simulate::add_risk_lines(&a.input, &loaded, &mut audit.findings, &catalog);
    let pictures = (a.format == Format::Html).then(|| {
        let n = audit.components.len();
        crate::html::pictures(&a.input, &loaded, &audit.findings, n, &catalog)
    });
    let input_errors = loaded.problems.iter().any(|p| !p.skipped);
    let report = Report {
        findings: audit.findings,
        components: audit.components,
        // On a terminal the problems were already printed on stderr.
        problems: if a.format == Format::Table {
            Vec::new()
        } else {
            loaded.problems
        },
        stats: loaded.stats,
    };
    let opts = RenderOptions {
        color: output::use_color(a.color),
        tool_version: env!("CARGO_PKG_VERSION"),
        show_components: true,
    };
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout);
    match pictures {
        Some(pictures) => {
            let page = pg_report::html::Page {
                pictures,
                ..Default::default()
            };
            pg_report::html::render_page(&report, &page, &opts, &mut out)?
        }
        None => pg_report::render(
            a.format,
            &report,
            &pg_checks::checks_info(),
            &opts,
            &mut out,
        )?,
    }
    out.flush()?;
    drop(out);
    let event_errors = a.events && !record_events(&a.input.cluster, &report.findings)?;
    Ok(exit_code(&report, a.fail_on, input_errors || event_errors))
}

/// `--events`: one summary line on stderr, and one line per Event that could not be written.
/// Returns whether every Event was written.
fn record_events(cluster: &ClusterArgs, findings: &[pg_model::Finding]) -> anyhow::Result<bool> {
    let results = pg_cluster::record_events(&cluster_options(cluster), findings)
        .context("cannot record Events")?;
    let (mut created, mut repeated, mut failed) = (0, 0, 0);
    for r in &results {
        match &r.outcome {
            Ok(pg_cluster::Recorded::Created) => created += 1,
            Ok(pg_cluster::Recorded::Repeated(_)) => repeated += 1,
            Ok(pg_cluster::Recorded::NotInCluster) => {
                eprintln!(
                    "note: {} is not in the cluster; no Event",
                    visible(&r.object.to_string())
                )
            }
            Err(e) => {
                failed += 1;
                eprintln!(
                    "error: Event for {} ({}): {}",
                    visible(&r.object.to_string()),
                    r.check,
                    visible(&e.to_string())
                );
            }
        }
    }
    eprintln!(
        "priorityguard: Events recorded: {created} new, {repeated} repeated{}",
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    );
    Ok(failed == 0)
}

fn exit_code(report: &Report, fail_on: FailOn, input_errors: bool) -> u8 {
    if input_errors {
        return EXIT_ERROR;
    }
    let threshold = match fail_on {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Info => Some(Severity::Info),
        FailOn::Never => None,
    };
    let failing = threshold.is_some_and(|t| report.findings.iter().any(|f| f.severity >= t));
    if failing { EXIT_FINDINGS } else { EXIT_CLEAN }
}
