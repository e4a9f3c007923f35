//! Admission policies that keep critical workloads on the right PriorityClass once they are
//! fixed, generated from the same catalog (and `--policy` file) that `priorityguard audit`
//! uses, for the engines clusters already run: ValidatingAdmissionPolicy, MutatingAdmissionPolicy,
//! Kyverno and Gatekeeper.
//!
//! Every engine recognises a workload exactly as pg-catalog does (same fields, same pattern
//! meaning, first matching entry decides) and judges it as audit's `critical-without-priority`
//! and `critical-class-too-weak` do. The differences admission forces are documented in
//! `docs/policy.md`: objects a controller creates are judged through their controller, and a
//! user class's value is unknown at admission, so only the recommended class and the system
//! classes satisfy an entry that recommends a user class.

mod cel;
mod gatekeeper;
mod jmespath;
mod kyverno;
mod map;
mod matcher;
mod pattern;
mod vap;
mod yaml;

use pg_catalog::{Catalog, Policy, SeverityOverride};
use pg_model::CheckId;

/// The admission engine to generate for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// ValidatingAdmissionPolicy + binding (Kubernetes >= 1.30).
    Vap,
    /// MutatingAdmissionPolicy + binding (Kubernetes >= 1.34 beta, 1.36 GA).
    Map,
    /// Kyverno's CEL policies (`policies.kyverno.io/v1` ValidatingPolicy, MutatingPolicy;
    /// Kyverno >= 1.17).
    Kyverno,
    /// A Kyverno ClusterPolicy (`kyverno.io/v1`), for Kyverno before 1.17 (deprecated there,
    /// removal planned in 1.20).
    KyvernoLegacy,
    /// A Gatekeeper ConstraintTemplate + Constraint.
    Gatekeeper,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Vap => "vap",
            Engine::Map => "map",
            Engine::Kyverno | Engine::KyvernoLegacy => "kyverno",
            Engine::Gatekeeper => "gatekeeper",
        }
    }

    /// Mutation for the MutatingAdmissionPolicy, rejection for the others.
    pub fn default_mode(self) -> Mode {
        match self {
            Engine::Map => Mode::Mutate,
            _ => Mode::Enforce,
        }
    }
}

/// What a policy does with a critical workload that lacks the right class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Reject it.
    Enforce,
    /// Admit it, with a warning to the client (kubectl prints `Warning: ...`).
    Warn,
    /// Admit it and record the violation (audit log, policy report, constraint status).
    Audit,
    /// Set the recommended class when there is none (map, kyverno).
    Mutate,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
            Mode::Audit => "audit",
            Mode::Mutate => "mutate",
        }
    }
}

/// Which of audit's checks the validating policies enforce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    /// `critical-without-priority`
    pub missing: bool,
    /// `critical-class-too-weak`
    pub weak: bool,
}

impl Default for Checks {
    fn default() -> Checks {
        Checks {
            missing: true,
            weak: true,
        }
    }
}

impl Checks {
    /// A check the policy file turns `off` is not enforced either.
    pub fn from_policy(policy: &Policy) -> Checks {
        let on = |id| policy.checks.get(&id) != Some(&SeverityOverride::Off);
        Checks {
            missing: on(CheckId::CriticalWithoutPriority),
            weak: on(CheckId::CriticalClassTooWeak),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub engine: Engine,
    /// `None`: the engine's [`Engine::default_mode`].
    pub mode: Option<Mode>,
    pub checks: Checks,
}

/// One generated object (or a few that belong together), as commented YAML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// Suggested file name; the numeric prefix is the order to apply them in.
    pub file_name: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "catalog entry {entry}: pattern {pattern:?} contains {ch:?}, which the generated policies cannot match (no Kubernetes name, label or image reference contains it)"
    )]
    Pattern {
        entry: String,
        pattern: String,
        ch: char,
    },
    #[error("--engine {engine} has no --mode {mode}: {hint}")]
    Mode {
        engine: &'static str,
        mode: &'static str,
        hint: &'static str,
    },
    #[error(
        "the policy file turns off both critical-without-priority and critical-class-too-weak: there is nothing to enforce"
    )]
    NothingToEnforce,
}

/// What every engine module gets.
struct Generation {
    matchers: Vec<matcher::Matcher>,
    mode: Mode,
    checks: Checks,
    /// The comment that opens every document.
    header: String,
}

/// Generates the objects for `opts.engine` from `catalog` (already extended by the policy file).
pub fn generate(catalog: &Catalog, opts: &Options) -> Result<Vec<Document>, PolicyError> {
    let mode = opts.mode.unwrap_or(opts.engine.default_mode());
    check_mode(opts.engine, mode)?;
    if mode != Mode::Mutate && !opts.checks.missing && !opts.checks.weak {
        return Err(PolicyError::NothingToEnforce);
    }
    let matchers = matcher::compile(catalog)?;
    let legacy = if opts.engine == Engine::KyvernoLegacy {
        " --kyverno-api legacy"
    } else {
        ""
    };
    let header = format!(
        "Generated by `priorityguard policy --engine {}{legacy} --mode {}` from the priorityguard catalog\n\
         ({} entries; `priorityguard catalog` lists them). Regenerate it when the catalog or the\n\
         --policy file changes rather than editing it.",
        opts.engine.as_str(),
        mode.as_str(),
        matchers.len()
    );
    let g = Generation {
        matchers,
        mode,
        checks: opts.checks,
        header,
    };
    Ok(match opts.engine {
        Engine::Vap => vap::documents(&g),
        Engine::Map => map::documents(&g),
        Engine::Kyverno => kyverno::cel_documents(&g),
        Engine::KyvernoLegacy => kyverno::documents(&g),
        Engine::Gatekeeper => gatekeeper::documents(&g),
    })
}

fn check_mode(engine: Engine, mode: Mode) -> Result<(), PolicyError> {
    let hint = match (engine, mode) {
        (Engine::Map, Mode::Mutate) | (Engine::Kyverno | Engine::KyvernoLegacy, _) => {
            return Ok(());
        }
        (Engine::Vap | Engine::Gatekeeper, Mode::Enforce | Mode::Warn | Mode::Audit) => {
            return Ok(());
        }
        (Engine::Map, _) => {
            "a MutatingAdmissionPolicy only sets the class; use --engine vap to reject or warn"
        }
        (Engine::Vap, _) => {
            "a ValidatingAdmissionPolicy cannot change objects; use --engine map to set the class"
        }
        (Engine::Gatekeeper, _) => {
            "Gatekeeper's mutators cannot express the catalog's matching; use --engine map or --engine kyverno --mode mutate"
        }
    };
    Err(PolicyError::Mode {
        engine: engine.as_str(),
        mode: mode.as_str(),
        hint,
    })
}

/// The documents as one multi-document YAML stream, in apply order.
pub fn to_stream(docs: &[Document]) -> String {
    docs.iter()
        .map(|d| d.text.as_str())
        .collect::<Vec<_>>()
        .join("---\n")
}

/// The resources every policy matches: Pods on create only (a pod's class cannot change
/// later), pod controllers on create and update.
const POD_KINDS: [(&str, &str, &str); 8] = [
    ("", "Pod", "pods"),
    ("", "ReplicationController", "replicationcontrollers"),
    ("apps", "DaemonSet", "daemonsets"),
    ("apps", "Deployment", "deployments"),
    ("apps", "ReplicaSet", "replicasets"),
    ("apps", "StatefulSet", "statefulsets"),
    ("batch", "Job", "jobs"),
    ("batch", "CronJob", "cronjobs"),
];
