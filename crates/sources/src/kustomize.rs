//! Kustomize trees: the patches a `kustomization.yaml` applies are fragments of workloads
//! defined elsewhere. A patch without `priorityClassName` leaves the base's class as it is, so
//! its workload says nothing about classes and is dropped; a patch that sets a class is checked.

use crate::Loaded;
use pg_model::{Object, WorkloadKind};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

const NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Kustomization {
    patches_strategic_merge: Vec<String>,
    patches: Vec<PatchRef>,
    patches_json6902: Vec<PatchRef>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PatchRef {
    path: Option<String>,
}

/// The patch files named by the kustomizations among `files`.
pub fn patches<'a>(files: impl Iterator<Item = &'a Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for file in files {
        if !file
            .file_name()
            .is_some_and(|n| NAMES.iter().any(|k| n == *k))
        {
            continue;
        }
        let Some(k) = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| pg_yaml::from_str::<Kustomization>(&t).ok())
        else {
            continue;
        };
        let dir = file.parent().unwrap_or(Path::new(""));
        let named = k.patches_strategic_merge.into_iter().chain(
            k.patches
                .into_iter()
                .chain(k.patches_json6902)
                .filter_map(|p| p.path),
        );
        let mut seen = HashSet::new();
        for p in named {
            // An inline patch (`- |-` with YAML in it) is not a file.
            if p.contains('\n') {
                continue;
            }
            let path = normalize(&dir.join(p));
            if seen.insert(path.clone()) {
                out.push(path);
            }
        }
    }
    out
}

/// Drops the workloads of a patch that set neither a class nor a priority.
pub fn keep_what_patches_set(loaded: &mut Loaded) {
    loaded.objects.retain(|o| match o {
        Object::Workload(w) if w.pod.priority_class.is_unset() && w.pod.priority.is_none() => {
            match w.kind {
                WorkloadKind::Pod => loaded.stats.pods -= 1,
                _ => loaded.stats.workloads -= 1,
            }
            false
        }
        _ => true,
    });
}

/// `a/./b/../c` is `a/c`, as the walk would name it.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_files_of_a_kustomization() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("kustomization.yaml");
        std::fs::write(
            &k,
            "resources: [../base]\npatchesStrategicMerge:\n- speaker-patch.yaml\npatches:\n- path: ./p.yaml\n- patch: |-\n    - op: remove\n      path: /x\npatchesJson6902:\n- path: ../other/j.yaml\n  target: {kind: ClusterRole}\n",
        )
        .unwrap();
        let found = patches([k.as_path()].into_iter());
        let d = dir.path();
        assert_eq!(
            found,
            vec![
                d.join("speaker-patch.yaml"),
                d.join("p.yaml"),
                normalize(&d.join("../other/j.yaml"))
            ]
        );
    }
}
