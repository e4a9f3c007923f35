//! `priorityguard simulate`: what the kubelet and the scheduler would do to critical pods,
//! before and after the recommended classes; and the risk line `audit` adds to critical
//! findings when its input has nodes.

use crate::args::{ColorChoice, InputArgs};
use crate::{EXIT_CLEAN, output};
use anyhow::Context;
use clap::{Args, ValueEnum};
use pg_catalog::Catalog;
use pg_model::Finding;
use pg_model::snapshot::Snapshot;
use pg_simulate::{Assume, Options, Pressure};
use pg_sources::Loaded;
use pg_sources::snapshot::Builder;
use std::io::Write;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Snapshot: kubectl get nodes,pods,priorityclasses,poddisruptionbudgets -A -o json > snap.json
          (add `kubectl get podmetrics -A -o json` to it for measured memory)
Usage file (--usage): YAML/JSON `namespace/pod: {memory: 300Mi, ephemeral-storage: 1Gi}`, or a
          kubelet stats summary (kubectl get --raw /api/v1/nodes/NODE/proxy/stats/summary).

Examples:
  priorityguard simulate --snapshot snap.json                  critical pods' exposure on every node
  priorityguard simulate --snapshot snap.json --node node-a --with-fixes --chart order.svg
  priorityguard simulate --cluster --pending batch-job.yaml --with-fixes -o json";

#[derive(Args, Debug)]
#[command(after_help = AFTER_HELP)]
#[command(group(clap::ArgGroup::new("chart_view").args(["node", "pending"]).multiple(true)))]
pub struct SimulateArgs {
    /// A snapshot of the cluster (JSON or YAML; repeat for several files; `-` reads stdin)
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "cluster",
        conflicts_with = "cluster"
    )]
    pub snapshot: Vec<String>,
    /// Read the live cluster (kubeconfig's current context, like kubectl) instead
    // No default value: clap counts a default as present, so `requires = "cluster"` on the
    // cluster-only options would never fire.
    #[arg(long, default_value = None)]
    pub cluster: bool,
    #[command(flatten)]
    pub kube: crate::args::KubeArgs,
    /// Show this node's whole eviction order and OOM scores
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
    /// The resource the node is short of
    #[arg(long, value_enum, default_value = "memory")]
    pub pressure: PressureArg,
    /// Measured usage per pod (see below); later files win
    #[arg(long, value_name = "FILE")]
    pub usage: Vec<String>,
    /// What to take as a pod's usage when nothing measured it
    #[arg(long, value_enum, default_value = "requests")]
    pub assume: AssumeArg,
    /// A pod (or a workload's pod template; a DaemonSet's goes to --node) that wants to be
    /// scheduled: does it fit, and whom would it preempt?
    #[arg(long, value_name = "POD.yaml")]
    pub pending: Option<PathBuf>,
    /// Also show every view after giving critical components their recommended classes
    #[arg(long)]
    pub with_fixes: bool,
    /// A policy file adding catalog entries (as for audit)
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: SimulateFormat,
    /// Write an SVG chart of --node's eviction order and --pending's preemption (before and,
    /// with --with-fixes, after)
    #[arg(long, value_name = "FILE.svg", requires = "chart_view")]
    pub chart: Option<PathBuf>,
    /// Colour the table (auto: only on a terminal, and never with NO_COLOR set)
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
}

impl SimulateArgs {
    /// See [`crate::args::ClusterArgs::option_without_cluster`].
    pub fn option_without_cluster(&self) -> Option<&'static str> {
        crate::args::first_set(
            self.cluster,
            &[
                ("--context", !self.kube.context.is_empty()),
                ("--kubeconfig", self.kube.kubeconfig.is_some()),
            ],
        )
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum PressureArg {
    Memory,
    EphemeralStorage,
    Pid,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum AssumeArg {
    /// Usage = request
    Requests,
    /// Usage = limit (request when a container has none)
    Limits,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SimulateFormat {
    Table,
    Json,
}

/// Warnings beyond this many are counted, not printed (a big snapshot can have thousands).
const MAX_WARNINGS: usize = 10;

pub fn run(a: SimulateArgs) -> anyhow::Result<u8> {
    let (_, catalog) = crate::audit::load_policy(a.policy.as_deref())?;
    let snapshot = load(&a)?;
    for w in snapshot.warnings.iter().take(MAX_WARNINGS) {
        eprintln!("warning: {}", pg_model::visible(&w.to_string()));
    }
    if snapshot.warnings.len() > MAX_WARNINGS {
        eprintln!(
            "warning: ... and {} more (all of them are in -o json)",
            snapshot.warnings.len() - MAX_WARNINGS
        );
    }
    let mut usage = snapshot.usage.clone();
    for f in &a.usage {
        usage.merge(pg_sources::snapshot::usage::load(f)?);
    }
    let pending = match &a.pending {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let source = path.display().to_string();
            Some(pg_sources::snapshot::pending_pod(
                &text,
                &source,
                &snapshot,
                a.node.as_deref(),
            )?)
        }
        None => None,
    };
    let opts = Options {
        node: a.node.clone(),
        pressure: match a.pressure {
            PressureArg::Memory => Pressure::Memory,
            PressureArg::EphemeralStorage => Pressure::EphemeralStorage,
            PressureArg::Pid => Pressure::Pid,
        },
        assume: match a.assume {
            AssumeArg::Requests => Assume::Requests,
            AssumeArg::Limits => Assume::Limits,
        },
        pending,
        with_fixes: a.with_fixes,
    };
    let sim = pg_simulate::simulate(&snapshot, &catalog, &usage, &opts)?;
    if let Some(path) = &a.chart {
        let svg = pg_report::simulate::chart::svg(&sim)
            .context("nothing to chart: --chart needs --node or --pending")?;
        std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match a.format {
        SimulateFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &sim)?;
            writeln!(out)?;
        }
        SimulateFormat::Table => {
            pg_report::simulate::table::render(&sim, output::use_color(a.color), &mut out)?;
        }
    }
    out.flush()?;
    Ok(EXIT_CLEAN)
}

fn load(a: &SimulateArgs) -> anyhow::Result<Snapshot> {
    if !a.cluster {
        return Ok(pg_sources::snapshot::load(&a.snapshot)?);
    }
    let opts = pg_cluster::ClusterOptions {
        kubeconfig: a.kube.kubeconfig.clone(),
        context: a.kube.one_context("simulate")?,
        namespace: None,
        progress: false,
    };
    let mut builder = Builder::default();
    let notes = pg_cluster::list_snapshot(&opts, |kind, page| builder.add_list_page(kind, page))?;
    for n in notes {
        eprintln!(
            "note: {}: {}",
            pg_model::visible(&n.source),
            pg_model::visible(&n.message)
        );
    }
    Ok(builder.finish())
}

/// Adds a risk line to each critical finding when the audited files include nodes (a
/// `kubectl get nodes,pods,... -o json` snapshot). Standard input and live clusters are not
/// read twice, so they get none; neither do inputs whose every document was a workload, pod
/// or class (the common case, which then costs nothing). Only files the audit read without a
/// problem are read again, YAML ones within the audit's size limit.
pub fn add_risk_lines(
    input: &InputArgs,
    loaded: &Loaded,
    findings: &mut [Finding],
    catalog: &Catalog,
) {
    let stats = &loaded.stats;
    let counted = stats.workloads + stats.pods + stats.priority_classes;
    if input.cluster.cluster
        || stats.documents <= counted
        || !findings.iter().any(|f| f.component.is_some())
    {
        return;
    }
    if let Some(snapshot) = files_snapshot(input, loaded) {
        pg_simulate::annotate(findings, &snapshot, catalog);
    }
}

/// The nodes, pods and classes of the audited files, when they include nodes (a `kubectl get
/// nodes,pods,... -o json` snapshot). Only files the audit read without a problem are read
/// again, YAML ones within the audit's size limit.
pub fn files_snapshot(input: &InputArgs, loaded: &Loaded) -> Option<Snapshot> {
    let had_problem = |path: &str| {
        loaded
            .problems
            .iter()
            .any(|p| p.source == path || p.source.starts_with(&format!("{path}:")))
    };
    let files: Vec<&str> = input
        .paths
        .iter()
        .map(String::as_str)
        .filter(|p| !had_problem(p))
        .filter(|p| {
            std::fs::metadata(p).is_ok_and(|m| {
                m.is_file()
                    && (is_json(p) || m.len() <= input.max_yaml_size.saturating_mul(1 << 20))
            })
        })
        .collect();
    pg_sources::snapshot::from_audited_files(&files)
}

/// Whether a file starts like JSON (which is parsed as it is read, so its size does not matter).
fn is_json(path: &str) -> bool {
    use std::io::Read;
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{' || *b == b'[')
}
