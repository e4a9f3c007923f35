//! From findings to changes: which workload, in which file, gets which edit.
//!
//! A finding's location is where its check points (the pod spec, its `priorityClassName` or its
//! `priority` key); the file is parsed again and the finding goes to the workload whose pod
//! spec has that position. Findings without a safe edit become notes.

use crate::FixError;
use crate::ops::{CLASS_KEY, PRIORITY_KEY};
use crate::parse::{Site, parse};
use crate::source::Source;
use crate::text::Text;
use pg_model::{CheckId, Finding, Location, ObjectRef, WorkloadKind};
use pg_yaml::Pos;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// This class instead of each finding's recommendation.
    pub class: Option<String>,
    /// Only findings of this check.
    pub only: Option<CheckId>,
    /// In templates, this expression instead of the class name (e.g.
    /// `{{ .Values.priorityClassName }}`).
    pub template_expr: Option<String>,
    /// Values files merged over Helm charts' values.yaml (`--values`).
    pub values: Vec<std::path::PathBuf>,
}

/// What one workload gets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The workload as this file writes it: what a patch targets.
    pub object: ObjectRef,
    /// The object the findings name: the same, or the owner a pod's findings were folded into.
    #[serde(skip)]
    pub reported_as: ObjectRef,
    pub kind: WorkloadKind,
    /// As written in the file (patches need it to name their target).
    pub api_version: Option<String>,
    pub location: Location,
    /// The findings this change fixes.
    pub checks: Vec<CheckId>,
    /// The class the pod spec will name; `None` leaves it as it is.
    pub class: Option<String>,
    /// `spec.priority` goes.
    pub remove_priority: bool,
}

/// A finding left as it is, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub location: String,
    pub message: String,
}

/// The changes for one file, with what is needed to make them.
pub struct FilePlan {
    pub source: Source,
    pub changes: Vec<Change>,
    pub(crate) text: Text,
    /// The site of each change (parallel to `changes`).
    pub(crate) sites: Vec<Site>,
}

#[derive(Default)]
pub struct Plan {
    pub files: Vec<FilePlan>,
    pub notes: Vec<Note>,
    pub errors: Vec<FixError>,
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.files.iter().flat_map(|f| &f.changes)
    }
}

/// Groups the fixable findings by file and matches each to its workload. `load` reads a file
/// by the name findings use for it.
pub fn plan(
    findings: &[Finding],
    opts: &Options,
    mut load: impl FnMut(&str) -> Result<Source, FixError>,
) -> Plan {
    let mut by_file: BTreeMap<Arc<str>, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        let wanted = pg_checks::is_fixable(f.check) && opts.only.is_none_or(|o| o == f.check);
        if let (true, Some(loc)) = (wanted, &f.location) {
            by_file.entry(loc.file.clone()).or_default().push(f);
        }
    }
    let mut plan = Plan::default();
    for (name, findings) in by_file {
        let source = match load(&name) {
            Ok(s) => s,
            Err(e) => {
                plan.errors.push(e);
                continue;
            }
        };
        let text = Text::for_file(&source.text, source.path.as_deref(), &opts.values);
        let parsed = match parse(&text, &name, source.path.as_deref()) {
            Ok(p) => p,
            Err(e) => {
                plan.errors.push(FixError::Parse {
                    file: name.to_string(),
                    line: e.line,
                    col: e.col,
                    message: e.message,
                });
                continue;
            }
        };
        let mut file = FilePlan {
            source,
            changes: Vec::new(),
            text,
            sites: Vec::new(),
        };
        let mut moved = false;
        for f in findings {
            match change_for(f, &parsed.sites, opts) {
                Ok((site, change)) => {
                    // The audit folds the same workload written twice, and the pods of one
                    // owner, into one finding at the first one's position: fix them all.
                    for twin in twins(f, site, &parsed.sites) {
                        let mut c = change.clone();
                        c.object = twin.object.clone();
                        c.location = Location {
                            file: name.clone(),
                            line: twin.start.line as u32,
                            column: twin.start.col as u32 + 1,
                        };
                        file.merge(twin, c);
                    }
                    file.merge(site, change)
                }
                Err(Refusal::Moved) => moved = true,
                Err(Refusal::Note(message)) => plan.notes.push(Note {
                    location: f
                        .location
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    message: format!("{} for {}: {message}", f.check, f.object),
                }),
            }
        }
        if moved {
            // The audit read another text than this: the file changed between the two reads.
            plan.errors.push(FixError::Changed {
                file: name.to_string(),
            });
        } else if !file.changes.is_empty() {
            plan.files.push(file);
        }
    }
    plan
}

impl FilePlan {
    /// One change per workload, however many of its findings are fixed.
    fn merge(&mut self, site: &Site, change: Change) {
        match self.sites.iter().position(|s| s.start == site.start) {
            Some(i) => {
                let c = &mut self.changes[i];
                c.checks.extend(change.checks);
                c.class = c.class.take().or(change.class);
                c.remove_priority |= change.remove_priority;
            }
            None => {
                self.sites.push(site.clone());
                self.changes.push(change);
            }
        }
    }
}

/// The other workloads of `sites` that `f` stands for: the same object again, or the other
/// pods it lists.
fn twins<'s>(f: &'s Finding, site: &'s Site, sites: &'s [Site]) -> impl Iterator<Item = &'s Site> {
    sites.iter().filter(move |s| {
        s.start != site.start
            && s.spec.is_some()
            && (s.object == site.object
                || f.pods.iter().any(|p| {
                    p.location.as_ref().is_some_and(|l| {
                        l.line == s.start.line as u32 && l.column == s.start.col as u32 + 1
                    })
                }))
    })
}

/// Why a finding gets no change.
enum Refusal {
    /// No workload where the audit saw one: the file is not the text the audit read.
    Moved,
    /// Nothing safe to do; the message says why.
    Note(String),
}

impl From<&str> for Refusal {
    fn from(message: &str) -> Refusal {
        Refusal::Note(message.to_string())
    }
}

fn change_for<'s>(
    f: &Finding,
    sites: &'s [Site],
    opts: &Options,
) -> Result<(&'s Site, Change), Refusal> {
    let loc = f.location.as_ref().expect("grouped by location");
    let is = |p: Pos| p.line == loc.line as usize && p.col + 1 == loc.column as usize;
    let site = sites
        .iter()
        .find(|s| {
            s.spec.as_ref().is_some_and(|spec| {
                is(spec.start)
                    || [CLASS_KEY, PRIORITY_KEY]
                        .iter()
                        .any(|k| spec.entry(k).is_some_and(|e| is(e.key_start)))
            }) || is(s.start)
        })
        .or_else(|| {
            // `template: {spec: ~}`: the audit points at the null, the parse has no spec.
            sites.iter().find(|s| {
                s.spec.is_none() && s.object == f.object && s.start.line <= loc.line as usize
            })
        })
        .ok_or(Refusal::Moved)?;
    if site.spec.is_none() {
        return Err(
            "the workload's pod spec is empty or null (`spec: ~`); write its containers first"
                .into(),
        );
    }
    let class = match f.check {
        CheckId::PrioritySetDirectly => None,
        _ => Some(
            opts.class
                .clone()
                .or_else(|| f.recommended_class.clone())
                .ok_or("no class is recommended; pass --class")?,
        ),
    };
    let change = Change {
        object: site.object.clone(),
        reported_as: f.object.clone(),
        kind: site.kind,
        api_version: site.api_version.clone(),
        location: loc.clone(),
        checks: vec![f.check],
        class,
        remove_priority: f.check == CheckId::PrioritySetDirectly,
    };
    Ok((site, change))
}
