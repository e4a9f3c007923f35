//! One YAML text read and fixed as a whole, for filters: a Helm post-renderer's manifest
//! stream, a KRM function's `ResourceList` (whose `items` the parser hands out one by one).
//! The same audit, plan, edits and re-audit as for files; the text never touches a disk.

use crate::{Change, FixError, Fixer, Note, Options, Source};
use pg_catalog::Catalog;
use pg_checks::Config;
use pg_model::Finding;

/// What [`fix_text`] made of a text.
#[derive(Debug)]
pub struct Streamed {
    /// The input's findings, before any fix.
    pub findings: Vec<Finding>,
    /// The whole text with the fixes made (the input itself when nothing changed, or when
    /// only planning was asked for).
    pub text: String,
    /// What was changed (or, without edits, what would be).
    pub changes: Vec<Change>,
    /// Findings left as they are, and why.
    pub notes: Vec<Note>,
}

/// Audits `source` and, if `edit`, fixes it. Without `edit` the changes are only planned
/// (for a mode that fails instead of changing). Errors are one line each and mean that
/// nothing may be used: the caller must fail rather than pass on a half-fixed text.
pub fn fix_text(
    source: Source,
    catalog: &Catalog,
    config: &Config,
    opts: Options,
    edit: bool,
) -> Result<Streamed, Vec<FixError>> {
    let objects = crate::read_objects(&source).map_err(|e| vec![e])?;
    let audit = pg_checks::audit(&objects, catalog, config);
    let fixer = Fixer::new(&objects, catalog, config, opts);
    let plan = fixer.plan(&audit.findings, |_| Ok(source.clone()));
    if !plan.errors.is_empty() {
        return Err(plan.errors);
    }
    if !edit {
        return Ok(Streamed {
            findings: audit.findings,
            changes: plan.changes().cloned().collect(),
            notes: plan.notes,
            text: source.text,
        });
    }
    let outcome = fixer.apply(plan);
    if !outcome.errors.is_empty() {
        return Err(outcome.errors);
    }
    let (text, changes) = match outcome.files.into_iter().next() {
        Some(fix) => (fix.after, fix.changes),
        None => (source.text, Vec::new()),
    };
    Ok(Streamed {
        findings: audit.findings,
        text,
        changes,
        notes: outcome.notes,
    })
}
