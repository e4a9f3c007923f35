use crate::args::{AuditArgs, ClusterArgs, FailOn, InputArgs};
use crate::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, output};
use anyhow::Context;
use pg_catalog::{Catalog, Policy};
use pg_checks::Config;
use pg_model::{ClusterRef, InputProblem, Report, Severity, visible};
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
/// labels that `catalog` and the checks look at are kept. `cluster` is the one cluster to read
/// with `--cluster` (see [`selection`]).
pub fn load_inputs(
    input: &InputArgs,
    cluster: Option<&pg_cluster::ClusterOptions>,
    catalog: &Catalog,
) -> anyhow::Result<Loaded> {
    let keep_labels = pg_checks::labels_read(catalog);
    let loaded = if let Some(opts) = cluster {
        pg_cluster::load_keeping_labels(opts, Some(&keep_labels))?
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

/// What `--cluster` reads: one cluster (the current context, `--context NAME`, or the only
/// context of `--all-contexts`), or several.
pub enum Selection {
    One(pg_cluster::ClusterOptions),
    Many(Fleet),
}

/// Several clusters: the shared options (kubeconfig, namespace) and the contexts, in order.
pub struct Fleet {
    pub opts: pg_cluster::ClusterOptions,
    pub contexts: Vec<String>,
    pub jobs: usize,
}

pub fn selection(c: &ClusterArgs) -> anyhow::Result<Selection> {
    let mut opts = pg_cluster::ClusterOptions {
        kubeconfig: c.kube.kubeconfig.clone(),
        context: None,
        namespace: c.namespaces.namespace.clone(),
        progress: std::io::stderr().is_terminal(),
    };
    let mut contexts: Vec<String> = if c.all_contexts {
        pg_cluster::contexts(&opts)?
    } else {
        Vec::new()
    };
    for name in &c.kube.context {
        if !contexts.contains(name) {
            contexts.push(name.clone());
        }
    }
    if contexts.len() <= 1 {
        opts.context = contexts.pop();
        return Ok(Selection::One(opts));
    }
    Ok(Selection::Many(Fleet {
        opts,
        contexts,
        jobs: c.jobs.map_or(pg_cluster::DEFAULT_JOBS, usize::from),
    }))
}

/// One cluster of a multi-cluster run: `read` applied to what it loaded, or why it could not
/// be read.
pub struct Read<T> {
    pub cluster: ClusterRef,
    pub result: Result<T, String>,
}

/// Reads every cluster of `fleet` (concurrently, `fleet.jobs` at a time) and applies `read` to
/// each as it arrives, so only a few clusters' objects are ever in memory. Problems are printed
/// on stderr as they come, a cluster that failed as one line naming its context. The results
/// are in the order the contexts were named.
pub fn read_fleet<T>(
    fleet: &Fleet,
    catalog: &Catalog,
    mut read: impl FnMut(&ClusterRef, Loaded) -> T,
) -> Vec<Read<T>> {
    let keep_labels = pg_checks::labels_read(catalog);
    let mut out: Vec<Option<Read<T>>> = fleet.contexts.iter().map(|_| None).collect();
    pg_cluster::load_fleet(
        &fleet.opts,
        &fleet.contexts,
        fleet.jobs,
        Some(&keep_labels),
        |i, member| {
            let cluster = ClusterRef {
                context: member.context,
                server: member.server.unwrap_or_default(),
            };
            let result = match member.result {
                Ok(loaded) => {
                    for p in &loaded.problems {
                        print_problem(p);
                    }
                    Ok(read(&cluster, loaded))
                }
                Err(e) => {
                    let problem = InputProblem {
                        source: Report::failed_cluster_source(&cluster),
                        message: e.to_string(),
                        skipped: false,
                    };
                    print_problem(&problem);
                    Err(e.to_string())
                }
            };
            out[i] = Some(Read { cluster, result });
        },
    );
    out.into_iter().flatten().collect()
}

fn print_problem(p: &InputProblem) {
    let level = if p.skipped { "note" } else { "error" };
    eprintln!("{level}: {}: {}", visible(&p.source), visible(&p.message));
}

pub fn run(a: AuditArgs) -> anyhow::Result<u8> {
    let (policy, catalog) = load_policy(a.policy.as_deref())?;
    let config = Config::new(a.all, &policy);
    let selection = if a.input.cluster.cluster {
        Some(selection(&a.input.cluster)?)
    } else {
        None
    };
    let html = a.format == Format::Html;
    let (mut report, pictures) = match &selection {
        Some(Selection::Many(fleet)) => (
            audit_fleet(fleet, &catalog, &config),
            html.then(|| pg_report::html::Pictures::Unavailable(FLEET_NO_PICTURE.into())),
        ),
        Some(Selection::One(opts)) => audit_one(&a.input, Some(opts), &catalog, &config, html)?,
        None => audit_one(&a.input, None, &catalog, &config, html)?,
    };
    let input_errors = report.errors().next().is_some();
    // On a terminal the problems were already printed on stderr.
    if a.format == Format::Table {
        report.problems.clear();
    }
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
    let event_errors = a.events
        && !match &selection {
            Some(Selection::One(opts)) => record_events(opts, &report.findings, "")?,
            Some(Selection::Many(fleet)) => record_fleet_events(fleet, &report)?,
            None => true,
        };
    Ok(exit_code(&report, a.fail_on, input_errors || event_errors))
}

/// Why a multi-cluster HTML page has no eviction picture: each cluster's nodes are simulated
/// on their own, one `--context` at a time.
const FLEET_NO_PICTURE: &str = "several clusters were audited; run `audit --cluster --context NAME -o html` for one cluster's eviction picture";

/// Files, or one cluster: the report as it has always been, and with `pictures` (`-o html`)
/// the eviction picture of the nodes behind it.
fn audit_one(
    input: &InputArgs,
    cluster: Option<&pg_cluster::ClusterOptions>,
    catalog: &Catalog,
    config: &Config,
    pictures: bool,
) -> anyhow::Result<(Report, Option<pg_report::html::Pictures>)> {
    let mut loaded = load_inputs(input, cluster, catalog)?;
    let mut audit = pg_checks::audit(&loaded.objects, catalog, config);
    drop(std::mem::take(&mut loaded.objects));
    crate::simulate::add_risk_lines(input, &loaded, &mut audit.findings, catalog);
    let pictures = pictures.then(|| {
        let n = audit.components.len();
        crate::html::pictures(input, cluster, &loaded, &audit.findings, n, catalog)
    });
    let report = Report {
        findings: audit.findings,
        components: audit.components,
        problems: loaded.problems,
        stats: loaded.stats,
        clusters: Vec::new(),
    };
    Ok((report, pictures))
}

/// Several clusters, each audited on its own (a class defined in one cluster says nothing
/// about another), merged into one report that names each finding's cluster.
fn audit_fleet(fleet: &Fleet, catalog: &Catalog, config: &Config) -> Report {
    let parts = read_fleet(fleet, catalog, |_, loaded| {
        let audit = pg_checks::audit(&loaded.objects, catalog, config);
        Report {
            findings: audit.findings,
            components: audit.components,
            problems: loaded.problems,
            stats: loaded.stats,
            clusters: Vec::new(),
        }
    });
    let mut report = Report::default();
    for part in parts {
        match part.result {
            Ok(r) => report.add_cluster(part.cluster, r),
            Err(reason) => report.add_failed_cluster(part.cluster, reason),
        }
    }
    report
}

/// `--events` on each cluster that was read, with that cluster's findings.
fn record_fleet_events(fleet: &Fleet, report: &Report) -> anyhow::Result<bool> {
    let mut all_written = true;
    for summary in report.clusters.iter().filter(|c| c.failure.is_none()) {
        let context = &summary.cluster.context;
        let findings: Vec<pg_model::Finding> = report
            .findings
            .iter()
            .filter(|f| f.cluster.as_ref().is_some_and(|c| &c.context == context))
            .cloned()
            .collect();
        let opts = pg_cluster::ClusterOptions {
            context: Some(context.clone()),
            ..fleet.opts.clone()
        };
        let label = format!(" in context \"{}\"", visible(context));
        all_written &= record_events(&opts, &findings, &label)?;
    }
    Ok(all_written)
}

/// `--events`: one summary line on stderr, and one line per Event that could not be written.
/// Returns whether every Event was written.
fn record_events(
    opts: &pg_cluster::ClusterOptions,
    findings: &[pg_model::Finding],
    label: &str,
) -> anyhow::Result<bool> {
    let results = pg_cluster::record_events(opts, findings).context("cannot record Events")?;
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
        "priorityguard: Events recorded{label}: {created} new, {repeated} repeated{}",
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
