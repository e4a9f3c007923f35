//! `priorityguard policy`: admission policies generated from the catalog audit uses.

use crate::EXIT_CLEAN;
use crate::audit::load_policy;
use anyhow::Context;
use clap::{Args, ValueEnum};
use pg_policy::{Checks, Engine, Mode, Options};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct PolicyArgs {
    /// vap: ValidatingAdmissionPolicy (Kubernetes >= 1.30); map: MutatingAdmissionPolicy
    /// (>= 1.36, 1.34 with a feature gate); kyverno: ValidatingPolicy/MutatingPolicy (or a
    /// ClusterPolicy with --kyverno-api legacy); gatekeeper:
    /// ConstraintTemplate + Constraint
    #[arg(long, value_enum)]
    pub engine: EngineArg,
    /// enforce: reject; warn: admit with a warning; audit: admit and record; mutate: set the
    /// class (map, kyverno). Default: mutate for map, enforce for the others
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// With --engine kyverno: v1 (default) generates Kyverno's CEL policies
    /// (policies.kyverno.io/v1 ValidatingPolicy, MutatingPolicy; Kyverno >= 1.17); legacy a
    /// kyverno.io/v1 ClusterPolicy for older Kyverno
    #[arg(long, value_enum, value_name = "API", default_value = "v1")]
    pub kyverno_api: KyvernoApiArg,
    /// A policy file adding catalog entries (and turning checks off), as for `audit`
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Write one file per object into this directory (created if needed) instead of stdout
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum EngineArg {
    Vap,
    Map,
    Kyverno,
    Gatekeeper,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum KyvernoApiArg {
    V1,
    Legacy,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModeArg {
    Enforce,
    Warn,
    Audit,
    Mutate,
}

pub fn run(a: PolicyArgs) -> anyhow::Result<u8> {
    if a.kyverno_api == KyvernoApiArg::Legacy && !matches!(a.engine, EngineArg::Kyverno) {
        anyhow::bail!("--kyverno-api legacy needs --engine kyverno");
    }
    let (policy, catalog) = load_policy(a.policy.as_deref())?;
    let opts = Options {
        engine: match a.engine {
            EngineArg::Vap => Engine::Vap,
            EngineArg::Map => Engine::Map,
            EngineArg::Kyverno if a.kyverno_api == KyvernoApiArg::Legacy => Engine::KyvernoLegacy,
            EngineArg::Kyverno => Engine::Kyverno,
            EngineArg::Gatekeeper => Engine::Gatekeeper,
        },
        mode: a.mode.map(|m| match m {
            ModeArg::Enforce => Mode::Enforce,
            ModeArg::Warn => Mode::Warn,
            ModeArg::Audit => Mode::Audit,
            ModeArg::Mutate => Mode::Mutate,
        }),
        checks: Checks::from_policy(&policy),
    };
    let docs = pg_policy::generate(&catalog, &opts)?;
    match &a.out {
        Some(dir) => write_files(dir, &docs)?,
        None => std::io::stdout()
            .lock()
            .write_all(pg_policy::to_stream(&docs).as_bytes())?,
    }
    Ok(EXIT_CLEAN)
}

/// One file per document; the names say the order to apply them in.
fn write_files(dir: &Path, docs: &[pg_policy::Document]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for d in docs {
        let path = dir.join(&d.file_name);
        std::fs::write(&path, &d.text)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", pg_model::visible(&path.display().to_string()));
    }
    Ok(())
}
