//! Everything priorityguard reads, turned into [`pg_model::Object`]s that know where they came
//! from: files and directories (YAML, JSON, Jinja2 and Helm templates, `kubectl get -o json|yaml`
//! dumps of any size) and standard input.
//!
//! A bad input never stops the run: it becomes an [`pg_model::InputProblem`] naming the file
//! (and line), and the other inputs are still read.

pub mod ansible;
mod file;
pub mod helm;
mod jinja;
pub mod json;
mod kustomize;
pub mod raw;
pub mod template;
mod walk;

pub use file::Options;
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
    pub stats: Stats,
}

impl Loaded {
    fn absorb(&mut self, other: Loaded) {
        self.objects.extend(other.objects);
        self.problems.extend(other.problems);
        let (a, b) = (&mut self.stats, other.stats);
        a.files += b.files;
        a.bytes += b.bytes;
        a.documents += b.documents;
        a.workloads += b.workloads;
        a.pods += b.pods;
        a.priority_classes += b.priority_classes;
    }
}

/// Reads all inputs, files in parallel, results in input order.
pub fn load(inputs: &[Input], opts: &Options) -> Loaded {
    let mut loaded = Loaded::default();
    let mut files = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => loaded.absorb(file::load_stdin(opts)),
            Input::Path(path) => {
                let expanded = walk::expand(path);
                loaded.problems.extend(expanded.problems);
                files.extend(expanded.files);
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
