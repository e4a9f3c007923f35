//! `fix --cluster`: plan patches from the audit's findings, dry-run them on the server, and
//! apply them after confirmation.

use crate::args::{ClusterArgs, InputArgs};
use crate::audit::{cluster_options, load_inputs, load_policy};
use crate::{EXIT_CLEAN, EXIT_ERROR};
use anyhow::bail;
use clap::{Args, ValueEnum};
use pg_checks::Config;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DryRun {
    /// Ask the API server to validate the patches without storing them
    Server,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Without --apply the patches are only printed (as `kubectl patch` commands). With --apply every
patch is first sent as a server-side dry run; then, after --yes or a confirmation, the owning
workloads' pod templates are patched with field manager `priorityguard`. Deployments, DaemonSets
and StatefulSets roll their pods to the new template. Bare pods are never patched: a pod's
priority is fixed when it is created, so it must be recreated from a fixed manifest.")]
pub struct FixArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// A policy file adding catalog entries and changing check severities
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Patch the workloads (after a server-side dry run and confirmation)
    #[arg(long, requires = "cluster")]
    pub apply: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y', requires = "apply")]
    pub yes: bool,
    /// Only run the server-side dry run
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        requires = "apply",
        require_equals = true
    )]
    pub dry_run: Option<DryRun>,
}

pub fn run(a: FixArgs) -> anyhow::Result<u8> {
    if !a.cluster.cluster {
        bail!(
            "fixing files is not available yet; `priorityguard fix --cluster` patches live workloads, and each `audit` finding names the class to add"
        );
    }
    let (policy, catalog) = load_policy(a.policy.as_deref())?;
    let opts = cluster_options(&a.cluster);
    let input = InputArgs {
        paths: Vec::new(),
        max_yaml_size: 0,
        cluster: a.cluster,
    };
    let loaded = load_inputs(&input, &catalog)?;
    let audit = pg_checks::audit(&loaded.objects, &catalog, &Config::new(false, &policy));
    let (patches, refused) = pg_cluster::plan(&audit.findings);
    let target = pg_cluster::target(&opts)?;

    let mut out = std::io::stdout().lock();
    for (object, why) in &refused {
        writeln!(out, "# not patched: {object}: {why}")?;
    }
    if patches.is_empty() {
        writeln!(out, "# nothing to patch on {target}")?;
        return Ok(EXIT_CLEAN);
    }
    for p in &patches {
        let effect = if p.will_roll {
            "its pods will be replaced (rolling update)"
        } else {
            "only pods created from now on get it"
        };
        writeln!(
            out,
            "# {}: priorityClassName {}; {effect}",
            p.object, p.class
        )?;
        writeln!(out, "{}", p.kubectl_command())?;
    }
    if !a.apply {
        return Ok(EXIT_CLEAN);
    }

    writeln!(out, "\nserver-side dry run on {target}:")?;
    let dry = pg_cluster::apply(&opts, &patches, true)?;
    let mut failed = report(&mut out, &dry)?;
    if a.dry_run == Some(DryRun::Server) || failed == patches.len() {
        return Ok(if failed > 0 { EXIT_ERROR } else { EXIT_CLEAN });
    }
    let ready = patches.len() - failed;
    if !a.yes && !confirm(&mut out, &format!("patch {ready} workload(s) on {target}?"))? {
        writeln!(out, "nothing changed")?;
        return Ok(EXIT_CLEAN);
    }
    writeln!(out, "\napplying:")?;
    let applied = pg_cluster::apply(&opts, &patches, false)?;
    failed = report(&mut out, &applied)?;
    Ok(if failed > 0 { EXIT_ERROR } else { EXIT_CLEAN })
}

/// One line per object; returns how many failed.
fn report(out: &mut impl Write, results: &[pg_cluster::ApplyResult]) -> anyhow::Result<usize> {
    let mut failed = 0;
    for r in results {
        match &r.outcome {
            Ok(()) => writeln!(out, "  ok      {}", r.object)?,
            Err(e) => {
                failed += 1;
                writeln!(out, "  FAILED  {}: {e}", r.object)?;
            }
        }
    }
    Ok(failed)
}

/// Asks on the terminal; without one, refuses (scripts must say `--yes`).
fn confirm(out: &mut impl Write, question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("not patching without confirmation: stdin is not a terminal; pass --yes");
    }
    write!(out, "{question} [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
