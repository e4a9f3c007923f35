//! Catalog entries: critical components recognised by name (image, workload, container,
//! label) or by the host paths they mount, and the order in which their patterns are tried.

use crate::glob::glob_match;
use pg_model::{
    CommandLine, Role, SYSTEM_CLUSTER_CRITICAL, SYSTEM_NODE_CRITICAL, Workload, WorkloadKind,
};
use serde::Deserialize;

/// One known critical component and how to recognise it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub class: Option<String>,
    /// Where upstream ships it with a system class, or says it is critical. Required in the
    /// built-in catalog (tested), optional in a policy file.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub images: Vec<String>,
    /// Command-line patterns that refine `images`: when any is given, an image counts only in
    /// a container whose command line matches one of them (see [`args_match`]). Tells apart
    /// components that share one image (`longhorn-manager daemon` and `longhorn-manager
    /// deploy-driver`).
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub containers: Vec<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub kinds: Vec<WorkloadKind>,
    #[serde(default)]
    pub host_network: bool,
    #[serde(default)]
    pub host_paths: Vec<String>,
}

impl Entry {
    pub fn recommended_class(&self) -> &str {
        self.class.as_deref().unwrap_or(match self.role {
            Role::NodeAgent => SYSTEM_NODE_CRITICAL,
            Role::ClusterService => SYSTEM_CLUSTER_CRITICAL,
        })
    }

    fn applies_to_kind(&self, kind: WorkloadKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    fn namespace_allowed(&self, ns: Option<&str>) -> bool {
        self.namespaces.is_empty()
            || ns.is_none_or(|ns| ns.contains("{{") || self.namespaces.iter().any(|n| n == ns))
    }

    /// Why this entry matches the workload `s` describes, if it does.
    pub(crate) fn matches(&self, s: &Subject<'_>) -> Option<String> {
        let w = s.workload;
        if !self.applies_to_kind(s.kind) {
            return None;
        }
        for (c, repo) in w.pod.containers.iter().zip(&s.repositories) {
            if let Some(repo) = repo
                && let Some(p) = self.images.iter().find(|p| repository_matches(p, repo))
            {
                let image = format!("image {}{}", c.image_and_origin(), pattern_note(p));
                if let Some(args) = self.args_note(&c.command) {
                    return Some(format!("{image}{args}"));
                }
            }
        }
        if let Some((c, p)) = w.pod.containers.iter().find_map(|c| {
            self.containers
                .iter()
                .find(|p| glob_match(p, &c.name))
                .map(|p| (c, p))
        }) {
            return Some(format!("container {}{}", c.name, pattern_note(p)));
        }
        if !self.namespace_allowed(w.namespace.as_deref()) {
            return None;
        }
        let owner_name = w.owner.as_ref().map(|o| o.name.as_str());
        for name in [Some(w.name.as_str()), owner_name].into_iter().flatten() {
            if let Some(p) = self.names.iter().find(|p| glob_match(p, name)) {
                return Some(format!("name {name}{}", pattern_note(p)));
            }
        }
        for (k, v) in w.pod.labels.iter().chain(&w.labels) {
            for pattern in &self.labels {
                let (pk, pv) = pattern.split_once('=').unwrap_or((pattern, "*"));
                if pk == k && glob_match(pv, v) {
                    return Some(format!("label {k}={v}"));
                }
            }
        }
        if !self.host_paths.is_empty() && (!self.host_network || w.pod.host_network) {
            let hit = w
                .pod
                .host_paths
                .iter()
                .find(|hp| self.host_paths.iter().any(|p| at_or_under(hp, p)));
            if let Some(hp) = hit {
                let net = if self.host_network {
                    "hostNetwork + "
                } else {
                    ""
                };
                return Some(format!("{net}hostPath {hp}"));
            }
        }
        None
    }

    /// Whether a container running one of the entry's images is this component, going by its
    /// command line: `Some` with what decided (empty when the entry has no `args`), `None`
    /// when a `!` pattern matches or positive patterns are given and none matches.
    fn args_note(&self, command: &CommandLine) -> Option<String> {
        if self.args.is_empty() {
            return Some(String::new());
        }
        let (not, wanted): (Vec<&String>, Vec<&String>) =
            self.args.iter().partition(|a| a.starts_with('!'));
        if not.iter().any(|a| args_match(&a[1..], command)) {
            return None;
        }
        if wanted.is_empty() {
            let not: Vec<String> = not
                .iter()
                .map(|a| format!("\"{}\"", a[1..].trim()))
                .collect();
            return Some(format!(" with args not {}", not.join(" or ")));
        }
        let a = wanted.iter().find(|a| args_match(a, command))?;
        Some(match a.trim() {
            "" => " with the image's own command (no command or args)".to_string(),
            a => format!(" with args \"{a}\""),
        })
    }

    /// This entry cut into rules, one per kind of pattern and specificity, each keeping the
    /// entry's id, role, kinds and namespaces.
    pub(crate) fn rules(&self) -> Vec<(Specificity, Entry)> {
        let bare = Entry {
            images: Vec::new(),
            args: Vec::new(),
            names: Vec::new(),
            containers: Vec::new(),
            labels: Vec::new(),
            host_paths: Vec::new(),
            ..self.clone()
        };
        let mut out: Vec<(Specificity, Entry)> = Vec::new();
        let mut add = |spec: Specificity, set: &dyn Fn(&mut Entry)| {
            if let Some((_, e)) = out.iter_mut().find(|(s, _)| *s == spec) {
                set(e);
            } else {
                let mut e = bare.clone();
                set(&mut e);
                out.push((spec, e));
            }
        };
        for p in &self.names {
            let spec = Specificity::of(p, Precedence::ExactName, 1);
            add(spec, &|e| e.names.push(p.clone()));
        }
        for p in &self.images {
            let segments = p.split('/').count();
            let mut spec = Specificity::of(p, Precedence::ExactImage, segments);
            spec.any_command = self.args.is_empty();
            add(spec, &|e| {
                e.images.push(p.clone());
                e.args.clone_from(&self.args);
            });
        }
        for p in &self.containers {
            let spec = Specificity::of(p, Precedence::ExactContainer, 1);
            add(spec, &|e| e.containers.push(p.clone()));
        }
        for p in &self.labels {
            add(
                Specificity {
                    precedence: Precedence::Label,
                    segments: 0,
                    any_command: true,
                },
                &|e| e.labels.push(p.clone()),
            );
        }
        if !self.host_paths.is_empty() {
            add(
                Specificity {
                    precedence: Precedence::HostPath,
                    segments: 0,
                    any_command: true,
                },
                &|e| e.host_paths.clone_from(&self.host_paths),
            );
        }
        out
    }
}

/// Which kind of pattern decided, most specific first: a workload's own exact name, then an
/// exact image repository (more path segments first: `rocm/k8s-device-plugin` before
/// `k8s-device-plugin`; for the same segments, an image refined by `args` before the image
/// alone), an exact container name, any `*` pattern, a label, a host path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Precedence {
    ExactName,
    ExactImage,
    ExactContainer,
    Glob,
    Label,
    HostPath,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Specificity {
    precedence: Precedence,
    /// Negated segment count, so that the natural order puts longer repositories first.
    segments: i64,
    /// Not refined by a command line (`false` sorts first: an image with `args` is more
    /// specific than the same image alone).
    any_command: bool,
}

impl Specificity {
    fn of(pattern: &str, exact: Precedence, segments: usize) -> Specificity {
        if pattern.contains('*') {
            Specificity {
                precedence: Precedence::Glob,
                segments: 0,
                any_command: true,
            }
        } else {
            Specificity {
                precedence: exact,
                segments: -(segments as i64),
                any_command: true,
            }
        }
    }
}

/// Names the pattern when it was a `*` glob: a less specific match than an exact one.
fn pattern_note(pattern: &str) -> String {
    if pattern.contains('*') {
        format!(" (pattern {pattern})")
    } else {
        String::new()
    }
}

/// Whether a container's command line matches an `args` pattern (without its `!`): the
/// pattern's words are `*` globs that must match words of the command line in the same order,
/// not necessarily next to each other (`longhorn-manager daemon` matches `longhorn-manager -d
/// daemon --engine-image x`; `*gpu-feature-discovery` matches `/usr/bin/gpu-feature-discovery`).
/// An empty pattern matches only a container that sets neither `command` nor `args` (the
/// image's own entrypoint). Only the first [`CommandLine::MAX_WORDS`] words are kept to match.
pub(crate) fn args_match(pattern: &str, command: &CommandLine) -> bool {
    let mut want = pattern.split_whitespace().peekable();
    if want.peek().is_none() {
        return command.is_empty();
    }
    for word in command.words() {
        match want.peek() {
            Some(p) if glob_match(p, word) => {
                want.next();
            }
            Some(_) => {}
            None => break,
        }
    }
    want.peek().is_none()
}

/// What every rule looks at in one workload, worked out once for all of them.
pub(crate) struct Subject<'w> {
    pub(crate) workload: &'w Workload,
    pub(crate) kind: WorkloadKind,
    /// Each container's image repository ([`repository`]), in container order.
    pub(crate) repositories: Vec<Option<&'w str>>,
}

impl<'w> Subject<'w> {
    pub(crate) fn of(workload: &'w Workload) -> Subject<'w> {
        Subject {
            workload,
            kind: effective_kind(workload),
            repositories: workload
                .pod
                .containers
                .iter()
                .map(|c| repository(&c.image))
                .collect(),
        }
    }
}

/// Whether host path `path` is `dir` or below it (`/var/lib/kubelet/` is at
/// `/var/lib/kubelet`; `/var/lib/kubelet-x` is not under it).
pub(crate) fn at_or_under(path: &str, dir: &str) -> bool {
    let path = path.trim_end_matches('/');
    path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// A pod is judged as the kind of workload that owns it.
pub(crate) fn effective_kind(w: &Workload) -> WorkloadKind {
    match (&w.owner, w.kind) {
        (Some(o), WorkloadKind::Pod) => WorkloadKind::from_kind(&o.kind).unwrap_or(w.kind),
        _ => w.kind,
    }
}

/// `ghcr.io/org/multus-cni:v4@sha256:…` -> `ghcr.io/org/multus-cni`
pub(crate) fn repository(image: &str) -> Option<&str> {
    let image = image.split('@').next()?;
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    let repo = match image[last_slash..].find(':') {
        Some(colon) => &image[..last_slash + colon],
        None => image,
    };
    (!repo.is_empty() && !repo.contains("{{")).then_some(repo)
}

/// `calico/node` matches `quay.io/calico/node`, `multus-cni` any repository ending in it.
pub(crate) fn repository_matches(pattern: &str, repo: &str) -> bool {
    // Segment by segment from the end, so that nothing is collected (run per rule and image).
    let mut have = repo.rsplit('/');
    pattern
        .rsplit('/')
        .all(|p| have.next().is_some_and(|s| glob_match(p, s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories() {
        assert_eq!(
            repository("ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot-thick"),
            Some("ghcr.io/k8snetworkplumbingwg/multus-cni")
        );
        assert_eq!(
            repository("localhost:5000/kube-proxy"),
            Some("localhost:5000/kube-proxy")
        );
        assert_eq!(
            repository("registry.k8s.io/kube-proxy:v1.34.0@sha256:ab"),
            Some("registry.k8s.io/kube-proxy")
        );
        // A chart rendered with an empty registry: `{{ .Values.registry }}/kube-proxy:v1.34.1`.
        assert_eq!(repository("/kube-proxy:v1.34.1"), Some("/kube-proxy"));
        assert_eq!(repository("calico/node"), Some("calico/node"));
        // Nothing to match: an empty image, or one left templated.
        assert_eq!(repository(""), None);
        assert_eq!(repository("@sha256:ab"), None);
        assert_eq!(
            repository("{{ .Values.image.repository }}:{{ .Values.image.tag }}"),
            None
        );
        assert!(repository_matches("calico/node", "quay.io/calico/node"));
        assert!(!repository_matches("calico/node", "quay.io/other/node"));
        assert!(!repository_matches("quay.io/calico/node", "calico/node"));
        assert!(repository_matches("*/node", "quay.io/calico/node"));
        assert!(repository_matches(
            "multus-cni",
            "ghcr.io/k8snetworkplumbingwg/multus-cni"
        ));
    }

    #[test]
    fn host_paths_are_at_or_under_a_directory() {
        assert!(at_or_under("/var/lib/kubelet", "/var/lib/kubelet"));
        assert!(at_or_under("/var/lib/kubelet/", "/var/lib/kubelet"));
        assert!(at_or_under(
            "/var/lib/kubelet/plugins_registry",
            "/var/lib/kubelet"
        ));
        assert!(!at_or_under("/var/lib/kubelet-plugins", "/var/lib/kubelet"));
        assert!(!at_or_under("/var/lib", "/var/lib/kubelet"));
    }

    #[test]
    fn args_patterns_match_words_in_order() {
        let cmd = CommandLine::new(["bash", "/kube-ovn/start-cniserver.sh", "--mtu=1400"]);
        assert!(args_match("*/start-cniserver.sh", &cmd));
        assert!(args_match("bash --mtu=*", &cmd));
        assert!(!args_match("--mtu=* bash", &cmd));
        assert!(!args_match("start-cniserver.sh", &cmd));
        assert!(!args_match("", &cmd));
        assert!(args_match("", &CommandLine::default()));
        assert!(args_match("  ", &CommandLine::default()));
        assert!(!args_match("bash", &CommandLine::default()));
    }
}
