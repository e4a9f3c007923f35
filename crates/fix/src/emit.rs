//! `fix --emit`: the same changes as patches, for manifests that are not edited in place
//! (vendored upstream YAML): kustomize strategic-merge patches, `kubectl patch` commands, or
//! RFC 6902 JSON patches.

use crate::FixError;
use crate::plan::{Change, Note};
use pg_model::WorkloadKind;
use pg_sources::raw::pod_spec_path;
use pg_yaml::write as yaml;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::path::{Component, Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Kustomize,
    Kubectl,
    JsonPatch,
}

/// What to print and which files to write.
#[derive(Debug, Default)]
pub struct Emitted {
    pub stdout: String,
    pub files: Vec<(PathBuf, String)>,
    pub notes: Vec<Note>,
}

impl Emitted {
    /// Writes the files (creating the directory).
    pub fn write_files(&self) -> Result<(), FixError> {
        for (path, content) in &self.files {
            let io = |source| FixError::Io {
                file: path.display().to_string(),
                source,
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            std::fs::write(path, content).map_err(io)?;
        }
        Ok(())
    }
}

const KUSTOMIZATION: &str = "kustomization.yaml";
const STDOUT_PATCHES: &str = "priorityguard-patches.yaml";

/// Renders `changes` (from files named by `Change::location`); with `out`, as files in it.
pub fn emit(format: Format, changes: &[Change], out: Option<&Path>) -> Emitted {
    let mut emitted = Emitted::default();
    let mut usable = Vec::new();
    for c in changes {
        if c.object.name.contains("{{") || c.object.name.contains("{%") {
            emitted.notes.push(note(
                c,
                "its name is a template expression; fix the template itself (without --emit)",
            ));
        } else {
            usable.push(c);
        }
    }
    match format {
        Format::Kustomize => kustomize(&usable, out, &mut emitted),
        Format::Kubectl => kubectl(&usable, out, &mut emitted),
        Format::JsonPatch => json_patch(&usable, out, &mut emitted),
    }
    emitted
}

fn note(c: &Change, message: &str) -> Note {
    Note {
        location: c.location.to_string(),
        message: format!("{}: {message}", c.object),
    }
}

fn api_version(c: &Change) -> &str {
    match c.api_version.as_deref() {
        Some(v) if !v.contains("{{") => v,
        _ => match c.kind {
            WorkloadKind::Pod | WorkloadKind::ReplicationController => "v1",
            WorkloadKind::Job | WorkloadKind::CronJob => "batch/v1",
            _ => "apps/v1",
        },
    }
}

/// `# deploy/x.yaml:3:5: critical-without-priority`: a comment line in YAML and in the shell
/// script, so a file name must not be able to end it and start a command.
fn header(c: &Change) -> String {
    let checks: Vec<&str> = c.checks.iter().map(|k| k.as_str()).collect();
    format!(
        "# {}: {}",
        pg_model::visible(&c.location.to_string()),
        checks.join(", ")
    )
}

/// `daemonset-metallb-system-speaker`: unique enough, and safe as a file name.
fn stem(c: &Change) -> String {
    let raw = match &c.object.namespace {
        Some(ns) => format!("{}-{ns}-{}", c.object.kind, c.object.name),
        None => format!("{}-{}", c.object.kind, c.object.name),
    };
    raw.to_ascii_lowercase()
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '.' {
                ch
            } else {
                '-'
            }
        })
        .collect()
}

/// Stems made unique by a counter (the same object in two files).
fn stems(changes: &[&Change]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    changes
        .iter()
        .map(|c| {
            let base = stem(c);
            let mut s = base.clone();
            let mut n = 2;
            while seen.contains(&s) {
                s = format!("{base}-{n}");
                n += 1;
            }
            seen.push(s.clone());
            s
        })
        .collect()
}

fn strategic_merge_patch(c: &Change) -> String {
    let mut y = format!(
        "{}\napiVersion: {}\nkind: {}\nmetadata:\n  name: {}\n",
        header(c),
        api_version(c),
        c.kind,
        yaml::scalar(&c.object.name)
    );
    if let Some(ns) = &c.object.namespace {
        y.push_str(&format!("  namespace: {}\n", yaml::scalar(ns)));
    }
    let path = pod_spec_path(c.kind);
    for (depth, key) in path.iter().enumerate() {
        y.push_str(&format!("{}{key}:\n", "  ".repeat(depth)));
    }
    let indent = "  ".repeat(path.len());
    if let Some(class) = &c.class {
        y.push_str(&format!(
            "{indent}priorityClassName: {}\n",
            yaml::scalar(class)
        ));
    }
    if c.remove_priority {
        // `null` in a strategic-merge patch deletes the field.
        y.push_str(&format!("{indent}priority: null\n"));
    }
    y
}

fn kustomize(changes: &[&Change], out: Option<&Path>, emitted: &mut Emitted) {
    if changes.is_empty() {
        return;
    }
    let Some(dir) = out else {
        emitted.stdout.push_str(&format!(
            "# Strategic-merge patches for kustomize: save this as {STDOUT_PATCHES} and add to\n\
             # {KUSTOMIZATION}:\n# patches:\n# - path: {STDOUT_PATCHES}\n"
        ));
        for c in changes {
            emitted.stdout.push_str("---\n");
            emitted.stdout.push_str(&strategic_merge_patch(c));
        }
        return;
    };
    let names: Vec<String> = stems(changes)
        .into_iter()
        .map(|s| format!("{s}.priority-patch.yaml"))
        .collect();
    for (c, name) in changes.iter().zip(&names) {
        emitted
            .files
            .push((dir.join(name), strategic_merge_patch(c)));
    }
    let mut snippet = String::from("patches:\n");
    for name in &names {
        snippet.push_str(&format!("- path: {name}\n"));
    }
    let kustomization = dir.join(KUSTOMIZATION);
    if kustomization.exists() {
        emitted.stdout.push_str(&format!(
            "# {} exists: add these patches to it\n{snippet}",
            kustomization.display()
        ));
        return;
    }
    let mut resources: Vec<String> = Vec::new();
    for c in changes {
        let r = relative(dir, Path::new(&*c.location.file));
        if !resources.contains(&r) {
            resources.push(r);
        }
    }
    if resources.iter().any(|r| r.starts_with("..")) {
        emitted.notes.push(Note {
            location: kustomization.display().to_string(),
            message: "lists files outside its directory: kustomize refuses them unless run with --load-restrictor LoadRestrictionsNone (or move the kustomization next to them)".into(),
        });
    }
    let mut k = String::from(
        "# Written by `priorityguard fix --emit kustomize`: the manifests as they are, with\n# their PriorityClass fixed by patches.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
    );
    for r in &resources {
        k.push_str(&format!("- {}\n", yaml::scalar(r)));
    }
    k.push_str(&snippet);
    emitted.files.push((kustomization, k));
}

/// The merge patch `kubectl patch --type=merge` takes.
fn merge_patch(c: &Change) -> Value {
    let mut leaf = Map::new();
    if let Some(class) = &c.class {
        leaf.insert("priorityClassName".into(), json!(class));
    }
    if c.remove_priority {
        leaf.insert("priority".into(), Value::Null);
    }
    pod_spec_path(c.kind)
        .iter()
        .rev()
        .fold(Value::Object(leaf), |inner, key| json!({ *key: inner }))
}

/// As is when the shell leaves it alone, single-quoted otherwise.
fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/' | ':'));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn kubectl(changes: &[&Change], out: Option<&Path>, emitted: &mut Emitted) {
    let mut script = String::new();
    for c in changes {
        let refused = match c.kind {
            WorkloadKind::Pod => Some(
                "a bare pod's priority is fixed when it is created; recreate it from a fixed manifest",
            ),
            WorkloadKind::Job => {
                Some("a Job's pod template is immutable; recreate the Job from a fixed manifest")
            }
            _ => None,
        };
        if let Some(why) = refused {
            emitted.notes.push(note(c, why));
            continue;
        }
        let mut cmd = format!(
            "kubectl patch {} {}",
            c.kind.as_str().to_ascii_lowercase(),
            shell_quote(&c.object.name)
        );
        if let Some(ns) = &c.object.namespace {
            cmd.push_str(&format!(" -n {}", shell_quote(ns)));
        }
        cmd.push_str(&format!(
            " --type=merge --field-manager=priorityguard -p {}",
            shell_quote(&merge_patch(c).to_string())
        ));
        script.push_str(&format!("{}\n{cmd}\n", header(c)));
    }
    if script.is_empty() {
        return;
    }
    match out {
        Some(dir) => emitted.files.push((
            dir.join("priorityguard-patches.sh"),
            format!("#!/bin/sh\nset -e\n{script}"),
        )),
        None => emitted.stdout.push_str(&script),
    }
}

/// RFC 6902 operations (`add` replaces an existing member too).
fn json_patch_ops(c: &Change) -> Value {
    let base: String = pod_spec_path(c.kind)
        .iter()
        .map(|k| format!("/{k}"))
        .collect();
    let mut ops = Vec::new();
    if let Some(class) = &c.class {
        ops.push(json!({"op": "add", "path": format!("{base}/priorityClassName"), "value": class}));
    }
    if c.remove_priority {
        ops.push(json!({"op": "remove", "path": format!("{base}/priority")}));
    }
    Value::Array(ops)
}

/// One workload's JSON patch on stdout, with what it applies to.
#[derive(Serialize)]
struct TargetedPatch<'a> {
    target: Target<'a>,
    /// Where the finding is, `file:line:column`.
    source: String,
    patch: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Target<'a> {
    api_version: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    name: &'a str,
}

fn json_patch(changes: &[&Change], out: Option<&Path>, emitted: &mut Emitted) {
    if changes.is_empty() {
        return;
    }
    match out {
        Some(dir) => {
            for (c, s) in changes.iter().zip(stems(changes)) {
                let text = serde_json::to_string_pretty(&json_patch_ops(c)).expect("JSON") + "\n";
                emitted
                    .files
                    .push((dir.join(format!("{s}.json-patch.json")), text));
            }
        }
        None => {
            let all: Vec<TargetedPatch> = changes
                .iter()
                .map(|c| TargetedPatch {
                    target: Target {
                        api_version: api_version(c),
                        kind: c.kind.as_str(),
                        namespace: c.object.namespace.as_deref(),
                        name: &c.object.name,
                    },
                    source: c.location.to_string(),
                    patch: json_patch_ops(c),
                })
                .collect();
            emitted.stdout = serde_json::to_string_pretty(&all).expect("JSON") + "\n";
        }
    }
}

/// `to` relative to the directory `from` (both made absolute first).
fn relative(from: &Path, to: &Path) -> String {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (from, to) = (abs(from), abs(to));
    fn normal(p: &Path) -> Vec<Component<'_>> {
        p.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect()
    }
    let (f, t) = (normal(&from), normal(&to));
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..f.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c.as_os_str());
    }
    rel.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/c/x.yaml")),
            "../c/x.yaml"
        );
        assert_eq!(relative(Path::new("/a"), Path::new("/a/x.yaml")), "x.yaml");
    }

    #[test]
    fn shell_words_are_quoted_only_when_the_shell_would_change_them() {
        assert_eq!(shell_quote("kube-system"), "kube-system");
        assert_eq!(
            shell_quote("registry.k8s.io/pause:3.9_x"),
            "registry.k8s.io/pause:3.9_x"
        );
        assert_eq!(shell_quote(""), "''", "an empty word must stay a word");
        assert_eq!(shell_quote("web app"), "'web app'");
        assert_eq!(shell_quote("$(reboot)"), "'$(reboot)'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
