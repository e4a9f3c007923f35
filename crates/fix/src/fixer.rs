//! Turns a plan into new file contents, and refuses any result that does not parse or still
//! has a finding it was meant to fix.

use crate::edit::{self, Edit};
use crate::ops::{self, CLASS_KEY, NewValue, PRIORITY_KEY};
use crate::parse::parse;
use crate::plan::{Change, FilePlan, Note, Options, Plan};
use crate::source::Source;
use crate::text::Text;
use crate::{FixError, chart, values};
use pg_catalog::Catalog;
use pg_checks::Config;
use pg_model::{CheckId, Finding, Location, Object};
use pg_sources::template::Dialect;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A file with its fixes made (not yet written).
#[derive(Debug)]
pub struct FileFix {
    pub source: Source,
    /// The whole new content.
    pub after: String,
    /// For a chart's values.yaml, the workloads whose class it now sets (empty when only
    /// `--template-expr` asked for the value).
    pub changes: Vec<Change>,
}

/// What [`Fixer::apply`] produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub files: Vec<FileFix>,
    pub notes: Vec<Note>,
    pub errors: Vec<FixError>,
}

/// Fixes files, re-auditing each result the way the audit that found the problems did.
pub struct Fixer<'a> {
    catalog: &'a Catalog,
    config: &'a Config,
    /// The PriorityClasses and quotas of every input: classes' values decide findings.
    context: Vec<Object>,
    opts: Options,
}

/// Keys in a chart's values.yaml that decide templates' classes, with the class each wants.
type ValuesWanted = BTreeMap<PathBuf, Vec<Wanted>>;

struct Wanted {
    keys: Vec<String>,
    class: String,
    /// The change the value makes, when a finding asked for it (its value may then be
    /// replaced: the audit judged it); `None` for a value `--template-expr` now reads.
    change: Option<Change>,
}

impl<'a> Fixer<'a> {
    pub fn new(
        objects: &[Object],
        catalog: &'a Catalog,
        config: &'a Config,
        opts: Options,
    ) -> Fixer<'a> {
        let context = objects
            .iter()
            .filter(|o| !matches!(o, Object::Workload(_)))
            .cloned()
            .collect();
        Fixer {
            catalog,
            config,
            context,
            opts,
        }
    }

    pub fn plan(
        &self,
        findings: &[Finding],
        load: impl FnMut(&str) -> Result<Source, FixError>,
    ) -> Plan {
        crate::plan::plan(findings, &self.opts, load)
    }

    pub fn apply(&self, plan: Plan) -> Outcome {
        let mut out = Outcome {
            files: Vec::new(),
            notes: plan.notes,
            errors: plan.errors,
        };
        let mut wanted = ValuesWanted::new();
        for file in plan.files {
            match self.fix_file(file, &mut out.notes, &mut wanted) {
                Ok(Some(fix)) => out.files.push(fix),
                Ok(None) => {}
                Err(e) => out.errors.push(e),
            }
        }
        for (path, keys) in wanted {
            match fix_values(&path, keys, &mut out.notes) {
                Ok(Some(fix)) => out.files.push(fix),
                Ok(None) => {}
                Err(e) => out.errors.push(e),
            }
        }
        out
    }

    fn fix_file(
        &self,
        file: FilePlan,
        notes: &mut Vec<Note>,
        wanted: &mut ValuesWanted,
    ) -> Result<Option<FileFix>, FixError> {
        let FilePlan {
            source,
            changes,
            text,
            sites,
        } = file;
        let expression = self
            .opts
            .template_expr
            .as_ref()
            .filter(|_| text.dialect().is_some());
        let mut edits: Vec<Edit> = Vec::new();
        let mut made: Vec<Change> = Vec::new();
        for (mut change, site) in changes.into_iter().zip(&sites) {
            let spec = site
                .spec
                .as_ref()
                .expect("the plan keeps workloads with a pod spec");
            // A class the chart's values decide is set there, not in the template.
            let from_values = match (&change.class, expression, source.path.as_deref()) {
                (Some(class), None, Some(path)) => {
                    chart::class_value(&text, spec, path, &self.opts.values)
                        .map(|(values, keys)| (values, keys, class.clone()))
                }
                _ => None,
            };
            let value = change.class.as_ref().map(|class| match expression {
                Some(e) => NewValue::Expression(e.clone()),
                None => NewValue::Class(class.clone()),
            });
            let value = value.filter(|_| from_values.is_none());
            let (mine, problems) = edits_for(&text, spec, &mut change, value.as_ref());
            for why in problems {
                notes.push(note(&change, why));
            }
            if let (Some(e), Some(class)) = (expression, &change.class) {
                match values_wanted(&source, text.dialect(), e) {
                    Ok(Some((values, keys))) => wanted.entry(values).or_default().push(Wanted {
                        keys,
                        class: class.clone(),
                        change: None,
                    }),
                    Ok(None) => {}
                    Err(why) => notes.push(note(&change, why)),
                }
            }
            if let Some((values, keys, class)) = from_values {
                let mut set = change.clone();
                set.remove_priority = false;
                wanted.entry(values).or_default().push(Wanted {
                    keys,
                    class,
                    change: Some(set),
                });
            }
            if !mine.is_empty() {
                edits.extend(mine);
                made.push(change);
            }
        }
        if edits.is_empty() {
            return Ok(None);
        }
        let after = edited(&source, &text, edits)?;
        self.verify(&source, text.dialect(), &after, &made)
            .map_err(|problem| verify_error(&source, problem))?;
        Ok(Some(FileFix {
            source,
            after,
            changes: made,
        }))
    }

    /// Re-parses and re-audits `after`: it must parse, and none of the findings `changes` fix
    /// may remain.
    fn verify(
        &self,
        source: &Source,
        dialect: Option<Dialect>,
        after: &str,
        changes: &[Change],
    ) -> Result<(), String> {
        // With `--template-expr` the values the new expression reads are set alongside, so
        // the template is read as before they are known.
        let text = match source.path.as_deref() {
            Some(path) if self.opts.template_expr.is_none() => {
                Text::for_file(after, Some(path), &self.opts.values)
            }
            _ => Text::new(after, dialect),
        };
        let parsed = parse(&text, &source.name, source.path.as_deref())
            .map_err(|e| format!("does not parse (line {}:{}: {})", e.line, e.col, e.message))?;
        let mut objects: Vec<Object> = self
            .context
            .iter()
            .filter(|o| location(o).is_none_or(|l| l.file != source.name))
            .cloned()
            .collect();
        objects.extend(parsed.objects);
        let audit = pg_checks::audit(&objects, self.catalog, self.config);
        for f in &audit.findings {
            let here = f.location.as_ref().is_some_and(|l| l.file == source.name);
            let meant = changes
                .iter()
                .any(|c| c.reported_as == f.object && c.checks.contains(&f.check));
            if here && meant {
                return Err(format!("still has {} for {}", f.check, f.object));
            }
        }
        Ok(())
    }
}

fn verify_error(source: &Source, problem: String) -> FixError {
    FixError::Verify {
        file: source.name.to_string(),
        problem,
    }
}

/// The file's text with `edits` applied (byte-order mark kept).
fn edited(source: &Source, text: &Text, edits: Vec<Edit>) -> Result<String, FixError> {
    let body = edit::apply(text.body(), edits)
        .map_err(|_| verify_error(source, "would need two edits of the same bytes".into()))?;
    Ok(text.with_body(&body))
}

fn location(o: &Object) -> Option<&Location> {
    match o {
        Object::Workload(w) => w.location.as_ref(),
        Object::PriorityClass(c) => c.location.as_ref(),
        Object::ResourceQuota(q) => q.location.as_ref(),
        Object::QuotaConfig(c) => c.location.as_ref(),
        Object::Service(s) => s.location.as_ref(),
        Object::WebhookConfig(w) => w.location.as_ref(),
    }
}

/// The edits one change needs, and why any part of it cannot be made (that part is then
/// dropped from the change).
fn edits_for(
    text: &Text,
    spec: &crate::parse::Spec,
    change: &mut Change,
    value: Option<&NewValue>,
) -> (Vec<Edit>, Vec<String>) {
    let (mut edits, mut problems) = (Vec::new(), Vec::new());
    if let Some(value) = value {
        let edit = match spec.entry(CLASS_KEY) {
            Some(entry) => ops::replace_class(text, entry, value),
            None => Ok(ops::insert_class(text, spec, value)),
        };
        match edit {
            Ok(e) => edits.push(e),
            Err(why) => {
                problems.push(why);
                change.class = None;
                change.checks.retain(|c| *c == CheckId::PrioritySetDirectly);
            }
        }
    }
    if change.remove_priority {
        let edit = spec
            .entry(PRIORITY_KEY)
            .ok_or_else(|| "spec.priority is not where the audit saw it".to_string())
            .and_then(|entry| ops::remove_priority(text, spec, entry));
        match edit {
            Ok(e) => edits.push(e),
            Err(why) => {
                problems.push(why);
                change.remove_priority = false;
                change.checks.retain(|c| *c != CheckId::PrioritySetDirectly);
            }
        }
    }
    (edits, problems)
}

fn note(change: &Change, why: String) -> Note {
    Note {
        location: change.location.to_string(),
        message: format!("{}: {why}", change.object),
    }
}

/// The chart's values.yaml and the keys a Helm template's new expression reads, if any.
fn values_wanted(
    source: &Source,
    dialect: Option<Dialect>,
    expression: &str,
) -> Result<Option<(PathBuf, Vec<String>)>, String> {
    if dialect != Some(Dialect::Helm) {
        return Ok(None);
    }
    let Some(keys) = values::values_keys(expression) else {
        return Ok(None);
    };
    match source.path.as_deref().and_then(values::values_file) {
        Some(file) => Ok(Some((file, keys))),
        None => Err(format!(
            "the chart has no values.yaml; set {} in the chart's values",
            keys.join(".")
        )),
    }
}

fn fix_values(
    path: &std::path::Path,
    wanted: Vec<Wanted>,
    notes: &mut Vec<Note>,
) -> Result<Option<FileFix>, FixError> {
    let source = Source::read(path)?;
    let text = Text::new(&source.text, None);
    let mut done: Vec<(Vec<String>, String)> = Vec::new();
    let mut edits = Vec::new();
    let mut changes = Vec::new();
    let mut note = |message: String| {
        notes.push(Note {
            location: source.name.to_string(),
            message,
        })
    };
    for Wanted {
        keys,
        class,
        change,
    } in wanted
    {
        if let Some((_, first)) = done.iter().find(|(k, _)| *k == keys) {
            if *first != class {
                note(format!(
                    "{} is used by workloads that need {first} and {class}; it is set to {first}",
                    keys.join(".")
                ));
            }
            continue;
        }
        match values::set_default(&text, &keys, &class, change.is_some()) {
            Ok(edit) => {
                edits.extend(edit);
                changes.extend(change);
            }
            Err(why) => note(why),
        }
        done.push((keys, class));
    }
    if edits.is_empty() {
        return Ok(None);
    }
    let after = edited(&source, &text, edits)?;
    pg_yaml::parse_stream(&after, |_| {}).map_err(|e| {
        verify_error(
            &source,
            format!("does not parse (line {}: {})", e.line, e.message),
        )
    })?;
    Ok(Some(FileFix {
        source,
        after,
        changes,
    }))
}

/// The objects of a source read from standard input (files are read by `pg_sources`).
pub fn read_objects(source: &Source) -> Result<Vec<Object>, FixError> {
    let text = Text::new(&source.text, None);
    parse(&text, &source.name, source.path.as_deref())
        .map(|p| p.objects)
        .map_err(|e| FixError::Parse {
            file: source.name.to_string(),
            line: e.line,
            col: e.col,
            message: e.message,
        })
}
