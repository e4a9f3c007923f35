//! Everything priorityguard reads, turned into [`pg_model::Object`]s that know where they came
//! from: files and directories (YAML, JSON, Jinja2 and Helm templates, `kubectl get -o json|yaml`
//! dumps of any size) and standard input. The simulator's inputs (a cluster snapshot, measured
//! usage, the pending pod) are read by [`snapshot`] into [`pg_model::snapshot`]'s types.
//!
//! A bad input never stops the run: it becomes an [`pg_model::InputProblem`] naming the file
//! (and line), and the other inputs are still read.

pub mod ansible;
mod blocks;
mod file;
pub mod helm;
mod jinja;
pub mod json;
mod kustomize;
mod prune;
pub mod raw;
pub mod snapshot;
pub mod template;
mod walk;

pub use file::{Options, resolve_templated};
pub use walk::Input;

use pg_model::{InputProblem, Object, Stats};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::PathBuf;

/// The result of reading every input.
#[derive(Debug, Default)]
pub struct Loaded {
    pub objects: Vec<Object>,
    pub problems: Vec<InputProblem>,
    /// What was skipped without a word (documents that are not Kubernetes objects, directory
    /// links not followed): listed only on request (`--verbose`).
    pub quiet: Vec<InputProblem>,
    pub stats: Stats,
}

impl Loaded {
    fn absorb(&mut self, other: Loaded) {
        self.objects.extend(other.objects);
        self.problems.extend(other.problems);
        self.quiet.extend(other.quiet);
        let (a, b) = (&mut self.stats, other.stats);
        a.files += b.files;
        a.bytes += b.bytes;
        a.documents += b.documents;
        a.workloads += b.workloads;
        a.pods += b.pods;
        a.priority_classes += b.priority_classes;
        a.not_kubernetes += b.not_kubernetes;
    }
}

/// Reads all inputs, files in parallel, results in input order. A file reached by several
/// paths (arguments, links) is read once, under the first of them that is not through a link.
pub fn load(inputs: &[Input], opts: &Options) -> Loaded {
    let mut loaded = Loaded::default();
    let mut files: Vec<walk::FileInput> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for input in inputs {
        match input {
            Input::Stdin => loaded.absorb(file::load_stdin(opts)),
            Input::Path(path) => {
                let expanded = walk::expand(path, opts.follow);
                loaded.problems.extend(expanded.problems);
                loaded.quiet.extend(expanded.quiet);
                for f in expanded.files {
                    let id = walk::identity(&f.path);
                    if let Some(&first) = id.as_ref().and_then(|id| seen.get(id)) {
                        let first: &mut walk::FileInput = &mut files[first];
                        first.explicit |= f.explicit;
                        // Named by its own place rather than through a link, when it has one.
                        if walk::through_link(&first.path) && !walk::through_link(&f.path) {
                            first.path = f.path;
                        }
                        continue;
                    }
                    if let Some(id) = id {
                        seen.insert(id, files.len());
                    }
                    files.push(f);
                }
            }
        }
    }
    // Kustomize patches in the walk are fragments of workloads defined elsewhere.
    let patches: HashSet<PathBuf> = kustomize::patches(
        files
            .iter()
            .filter(|f| !f.explicit)
            .map(|f| f.path.as_path()),
    )
    .into_iter()
    .collect();
    let per_file: Vec<Loaded> = files
        .par_iter()
        .map(|f| {
            let mut l = file::load_file(&f.path, f.explicit, opts);
            if !f.explicit && patches.contains(&kustomize::normalize(&f.path)) {
                kustomize::keep_what_patches_set(&mut l);
            }
            l
        })
        .collect();
    for l in per_file {
        loaded.absorb(l);
    }
    // A chart's bad values file is met by each of its templates: say it once.
    let mut seen = std::collections::HashSet::new();
    loaded
        .problems
        .retain(|p| seen.insert((p.source.clone(), p.message.clone())));
    loaded
}
