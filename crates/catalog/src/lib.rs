//! Which workloads are critical, and which class each needs.
//!
//! The catalog is data (`catalog.yaml`, compiled in) so that adding a component is adding an
//! entry, and users extend or override it with a policy file in the same format. Components
//! are recognised by name ([`Entry`]: the most specific pattern wins) and, failing that, by
//! structure ([`Signal`]: what the pod mounts, runs and serves).

mod entry;
mod glob;
mod signal;

pub use entry::Entry;
pub use glob::{REFUSED_PATTERN_CHARS, refused_char};
pub use signal::Signal;

use entry::Specificity;
use pg_model::{CheckId, ComponentMatch, Severity, Workload};
use serde::Deserialize;
use std::collections::BTreeMap;

const BUILTIN: &str = include_str!("../catalog.yaml");

/// How a policy file changes a check.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SeverityOverride {
    Error,
    Warning,
    Info,
    Off,
}

impl SeverityOverride {
    pub fn severity(self) -> Option<Severity> {
        match self {
            SeverityOverride::Error => Some(Severity::Error),
            SeverityOverride::Warning => Some(Severity::Warning),
            SeverityOverride::Info => Some(Severity::Info),
            SeverityOverride::Off => None,
        }
    }
}

/// A `--policy` file: more (or replacement) catalog entries, check severities, and how loud
/// the findings about each component or signal are.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub components: Vec<Entry>,
    #[serde(default)]
    pub checks: BTreeMap<CheckId, SeverityOverride>,
    /// By component or signal id: the most its findings may say (`off`: not recognised).
    #[serde(default)]
    pub recognition: BTreeMap<String, SeverityOverride>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("recognition: no component or signal named {0:?} (`priorityguard catalog` lists them)")]
    UnknownId(String),
}

impl Policy {
    /// Reads a policy file: at most [`MAX_POLICY_BYTES`] of UTF-8 text (`--policy /dev/zero`
    /// must not read until memory runs out).
    pub fn from_file(path: &std::path::Path) -> Result<Policy, CatalogError> {
        use std::io::Read;
        let io = |source| CatalogError::Io {
            path: path.display().to_string(),
            source,
        };
        let invalid = |message: String| CatalogError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_POLICY_BYTES + 1).read_to_end(&mut bytes))
            .map_err(io)?;
        if bytes.len() as u64 > MAX_POLICY_BYTES {
            return Err(invalid(format!(
                "larger than {} MiB; a policy file is a few lines of YAML",
                MAX_POLICY_BYTES >> 20
            )));
        }
        if bytes.contains(&0) {
            return Err(invalid(
                "binary data (NUL bytes), not a YAML policy file".into(),
            ));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| invalid("invalid UTF-8; a policy file is UTF-8 YAML".into()))?;
        let policy: Policy = pg_yaml::from_str(&text).map_err(|message| CatalogError::Invalid {
            path: path.display().to_string(),
            message,
        })?;
        policy.check_patterns().map_err(invalid)?;
        Ok(policy)
    }

    /// Refuses patterns that could never match (see [`REFUSED_PATTERN_CHARS`]), as `policy`
    /// refuses them, instead of accepting an entry that silently recognises nothing.
    fn check_patterns(&self) -> Result<(), String> {
        for entry in &self.components {
            if !entry.args.is_empty() && entry.images.is_empty() {
                return Err(format!(
                    "component {}: `args` refines `images` (which component a shared image runs), but the entry has no images",
                    entry.id
                ));
            }
            let patterns = [
                &entry.images,
                &entry.args,
                &entry.names,
                &entry.containers,
                &entry.labels,
                &entry.namespaces,
                &entry.host_paths,
            ];
            for pattern in patterns.into_iter().flatten() {
                if let Some(ch) = refused_char(pattern) {
                    return Err(format!(
                        "component {}: pattern {pattern:?} contains {ch:?}; patterns are `*` globs, not regular expressions, and no Kubernetes name, label or image reference contains {ch:?}",
                        entry.id
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Policy files larger than this are refused; the built-in catalog is a few dozen KiB.
pub const MAX_POLICY_BYTES: u64 = 4 << 20;

#[derive(Clone, Debug)]
pub struct Catalog {
    entries: Vec<Entry>,
    /// How many of `entries` (at the front) come from a policy file: they win over the
    /// built-in ones whatever their patterns.
    from_policy: usize,
    signals: Vec<Signal>,
    /// The entries cut into rules, in the order they are tried (see [`Catalog::rules`]).
    rules: Vec<Entry>,
    /// By component or signal id, from the policy file.
    recognition: BTreeMap<String, SeverityOverride>,
}

impl Catalog {
    /// The catalog compiled into the binary.
    pub fn builtin() -> Catalog {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            components: Vec<Entry>,
            signals: Vec<Signal>,
        }
        let file: File = pg_yaml::from_str(BUILTIN).expect("catalog.yaml is valid (tested)");
        let mut c = Catalog {
            entries: file.components,
            from_policy: 0,
            signals: file.signals,
            rules: Vec::new(),
            recognition: BTreeMap::new(),
        };
        c.rules = c.cut_rules();
        c
    }

    /// Adds a policy's entries: one with a known id replaces it in place, new ones go first
    /// and win over the built-in entries.
    pub fn extend(&mut self, extra: &[Entry]) {
        for e in extra {
            match self.entries.iter_mut().find(|x| x.id == e.id) {
                Some(slot) => *slot = e.clone(),
                None => {
                    self.entries.insert(0, e.clone());
                    self.from_policy += 1;
                }
            }
        }
        self.rules = self.cut_rules();
    }

    /// Applies a policy file: its entries, and its `recognition` severities.
    pub fn apply(&mut self, policy: &Policy) -> Result<(), CatalogError> {
        self.extend(&policy.components);
        for id in policy.recognition.keys() {
            if self.entry(id).is_none() && self.signal(id).is_none() {
                return Err(CatalogError::UnknownId(id.clone()));
            }
        }
        self.recognition = policy.recognition.clone();
        self.rules = self.cut_rules();
        Ok(())
    }

    /// Every entry's patterns as rules, most specific first: policy-file entries, then by
    /// [`entry::Precedence`], then in catalog order. The first rule that matches decides,
    /// here and in the admission policies generated from the catalog.
    fn cut_rules(&self) -> Vec<Entry> {
        let mut rules: Vec<((bool, Specificity, usize), Entry)> = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if self.is_off(&e.id) {
                continue;
            }
            let builtin = i >= self.from_policy;
            for (spec, rule) in e.rules() {
                rules.push(((builtin, spec, i), rule));
            }
        }
        rules.sort_by_key(|(key, _)| *key);
        rules.into_iter().map(|(_, e)| e).collect()
    }

    fn is_off(&self, id: &str) -> bool {
        self.recognition.get(id) == Some(&SeverityOverride::Off)
    }

    /// The label keys any entry matches on: the only labels worth keeping in memory.
    pub fn label_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .entries
            .iter()
            .flat_map(|e| &e.labels)
            .map(|l| l.split_once('=').map_or(l.as_str(), |(k, _)| k).to_string())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries' patterns in the order they are tried; each rule is an [`Entry`] with the
    /// entry's id, role, kinds and namespaces and only the patterns of one specificity.
    pub fn rules(&self) -> &[Entry] {
        &self.rules
    }

    pub fn signals(&self) -> &[Signal] {
        &self.signals
    }

    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    pub fn signal(&self, id: &str) -> Option<&Signal> {
        self.signals.iter().find(|s| s.id == id)
    }

    /// The component `w` is, if the catalog recognises it from the pod spec alone.
    pub fn classify(&self, w: &Workload) -> Option<ComponentMatch> {
        self.classify_with(w, &[])
    }

    /// The component `w` is: the most specific entry that names it, else the first signal
    /// (certain ones before likely ones) its structure shows. `webhooks` describes the
    /// fail-closed webhooks that route to `w`.
    pub fn classify_with(&self, w: &Workload, webhooks: &[String]) -> Option<ComponentMatch> {
        let subject = entry::Subject::of(w);
        let named = self.rules.iter().find_map(|e| {
            e.matches(&subject).map(|matched_by| ComponentMatch {
                id: e.id.clone(),
                name: e.name.clone(),
                role: e.role,
                recommended_class: e.recommended_class().to_string(),
                matched_by,
                severity: self.cap(&e.id, false),
                likely: false,
            })
        });
        named.or_else(|| {
            let certain = self.signals.iter().filter(|s| !s.likely);
            let likely = self.signals.iter().filter(|s| s.likely);
            certain
                .chain(likely)
                .filter(|s| !self.is_off(&s.id))
                .find_map(|s| {
                    s.matches(&subject, webhooks)
                        .map(|matched_by| ComponentMatch {
                            id: s.id.clone(),
                            name: s.name.clone(),
                            role: s.role,
                            recommended_class: s.recommended_class().to_string(),
                            matched_by: format!("signal {}: {matched_by}", s.id),
                            severity: self.cap(&s.id, s.likely),
                            likely: s.likely,
                        })
                })
        })
    }

    /// The most a finding about `id` may say: the policy file's word, else a warning for a
    /// likely component, else no limit.
    fn cap(&self, id: &str, likely: bool) -> Option<Severity> {
        match self.recognition.get(id) {
            Some(o) => o.severity(),
            None => likely.then_some(Severity::Warning),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_model::{
        ClassRef, Container, ContainerStructure, PodSpecFacts, PodStructure, WorkloadKind,
    };

    #[test]
    fn builtin_catalog_parses_ids_are_unique_and_sourced() {
        let c = Catalog::builtin();
        let mut ids: Vec<&str> = c
            .entries()
            .iter()
            .map(|e| e.id.as_str())
            .chain(c.signals().iter().map(|s| s.id.as_str()))
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(c.entries().len() >= 55);
        for e in c.entries() {
            let source = e.source.as_deref().unwrap_or("");
            assert!(
                source.starts_with("https://"),
                "{}: source {source:?}",
                e.id
            );
        }
        for s in c.signals() {
            assert!(s.source.starts_with("https://"), "{}", s.id);
        }
    }

    fn daemonset(name: &str, image: &str, structure: Option<PodStructure>) -> Workload {
        Workload {
            kind: WorkloadKind::DaemonSet,
            name: name.into(),
            namespace: Some("kube-system".into()),
            labels: vec![],
            owner: None,
            from_api: false,
            mirror: false,
            pod: std::sync::Arc::new(PodSpecFacts {
                priority_class: ClassRef::Missing,
                priority: None,
                preemption_never: false,
                host_network: structure.is_some(),
                containers: vec![Container {
                    name: "main".into(),
                    image: image.into(),
                    init: false,
                    image_from: None,
                    command: Default::default(),
                }],
                host_paths: vec![],
                labels: vec![],
                structure: structure.map(Box::new),
                positions: None,
            }),
            location: None,
            managed_by: None,
        }
    }

    #[test]
    fn the_most_specific_pattern_wins_not_the_first_entry() {
        let c = Catalog::builtin();
        // `k8s-device-plugin` alone used to name this NVIDIA; AMD's `rocm/...` is more specific.
        let amd = c.classify(&daemonset(
            "gpu",
            "docker.io/rocm/k8s-device-plugin:1.31",
            None,
        ));
        assert_eq!(amd.unwrap().id, "amd-device-plugin");
        // Both Antrea components run `antrea/antrea-ubuntu`: the workload's exact name decides.
        let mut controller = daemonset("antrea-controller", "antrea/antrea-ubuntu:v2.2.0", None);
        controller.kind = WorkloadKind::Deployment;
        let m = c.classify(&controller).unwrap();
        assert_eq!(
            (m.id.as_str(), m.matched_by.as_str()),
            ("antrea-controller", "name antrea-controller")
        );
        let agent = c.classify(&daemonset(
            "antrea-agent",
            "antrea/antrea-ubuntu:v2.2.0",
            None,
        ));
        assert_eq!(agent.unwrap().id, "antrea-agent");
    }

    #[test]
    fn label_keys_are_every_entrys_keys_once() {
        let keys = Catalog::builtin().label_keys();
        for key in ["app", "k8s-app", "name"] {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
        assert!(
            keys.iter().all(|k| !k.is_empty() && !k.contains('=')),
            "{keys:?}"
        );
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "sorted, no repeats: {keys:?}"
        );
    }

    /// CoreDNS's entry counts names and labels only in kube-system (its image counts
    /// anywhere): a Deployment named `coredns` elsewhere, with another image, is someone's own
    /// DNS server; a templated namespace may render to kube-system, so it counts.
    #[test]
    fn names_count_only_in_the_entrys_namespaces() {
        let c = Catalog::builtin();
        let mut w = daemonset("coredns", "example.com/team/dns:1", None);
        w.kind = WorkloadKind::Deployment;
        assert_eq!(c.classify(&w).map(|m| m.id), Some("coredns".to_string()));
        w.namespace = Some("team-dns".into());
        assert_eq!(c.classify(&w), None);
        w.namespace = Some("{{ .Release.Namespace }}".into());
        assert_eq!(c.classify(&w).map(|m| m.id), Some("coredns".to_string()));
    }

    /// A policy entry with a new id is tried before the built-in ones; one with a known id
    /// replaces that entry.
    #[test]
    fn extend_adds_new_entries_first_and_replaces_known_ones() {
        let mut c = Catalog::builtin();
        let builtin = c.entries().len();
        let mut mine = c
            .entries()
            .iter()
            .find(|e| e.id == "multus")
            .unwrap()
            .clone();
        mine.id = "my-multus".into();
        let mut replaced = c
            .entries()
            .iter()
            .find(|e| e.id == "coredns")
            .unwrap()
            .clone();
        replaced.names = vec!["my-dns".into()];
        replaced.images.clear();
        replaced.labels.clear();
        c.extend(&[mine, replaced]);
        assert_eq!(c.entries().len(), builtin + 1);
        assert_eq!(c.entries()[0].id, "my-multus");
        let multus = daemonset(
            "kube-multus-ds",
            "ghcr.io/k8snetworkplumbingwg/multus-cni:v4",
            None,
        );
        assert_eq!(
            c.classify(&multus).map(|m| m.id),
            Some("my-multus".to_string())
        );
        let mut dns = daemonset("my-dns", "example.com/dns:1", None);
        dns.kind = WorkloadKind::Deployment;
        assert_eq!(c.classify(&dns).map(|m| m.id), Some("coredns".to_string()));
    }

    #[test]
    fn a_signal_recommends_its_roles_system_class() {
        for s in Catalog::builtin().signals() {
            let want = match s.role {
                pg_model::Role::NodeAgent => pg_model::SYSTEM_NODE_CRITICAL,
                pg_model::Role::ClusterService => pg_model::SYSTEM_CLUSTER_CRITICAL,
            };
            assert_eq!(s.recommended_class(), want, "{}", s.id);
        }
    }

    /// A `kind` named `name` whose one container runs `image` with `command` (then no args).
    fn running(kind: WorkloadKind, name: &str, image: &str, command: &[&str]) -> Workload {
        let mut w = daemonset(name, image, None);
        w.kind = kind;
        let mut pod = (*w.pod).clone();
        pod.containers[0].command = pg_model::CommandLine::new(command.iter().copied());
        w.pod = std::sync::Arc::new(pod);
        w
    }

    fn component(c: &Catalog, w: &Workload) -> Option<(String, String)> {
        c.classify(w).map(|m| (m.id, m.matched_by))
    }

    #[test]
    fn one_image_running_two_components_is_told_apart_by_its_command_line() {
        use WorkloadKind::{DaemonSet, Deployment};
        let c = Catalog::builtin();
        let image = "longhornio/longhorn-manager:v1.9.1";
        // Longhorn's deploy/longhorn.yaml: the manager DaemonSet and the driver deployer.
        let manager = running(
            DaemonSet,
            "lh-manager",
            image,
            &["longhorn-manager", "-d", "daemon", "--engine-image", "x"],
        );
        assert_eq!(
            component(&c, &manager),
            Some((
                "longhorn-manager".into(),
                format!("image {image} with args \"longhorn-manager daemon\"")
            ))
        );
        let deployer = ["longhorn-manager", "-d", "deploy-driver", "--manager-image"];
        let deployer = running(Deployment, "longhorn-driver-deployer", image, &deployer);
        assert_eq!(component(&c, &deployer), None);
        // The words must come in the pattern's order.
        let reversed = running(Deployment, "x", image, &["daemon", "longhorn-manager"]);
        assert_eq!(component(&c, &reversed), None);

        // Kube-OVN runs every component from kubeovn/kube-ovn: the start script decides, and
        // beats the image alone (kube-ovn-cni, a node agent).
        let image = "docker.io/kubeovn/kube-ovn:v1.16.0";
        let monitor = ["/kube-ovn/start-ovn-monitor.sh", "--secure-serving=false"];
        let monitor = running(Deployment, "ovn-monitor", image, &monitor);
        assert_eq!(
            component(&c, &monitor),
            Some((
                "kube-ovn-monitor".into(),
                format!("image {image} with args \"*/start-ovn-monitor.sh\"")
            ))
        );
        let central = running(Deployment, "db", image, &["bash", "/kube-ovn/start-db.sh"]);
        assert_eq!(component(&c, &central).unwrap().0, "kube-ovn-controller");
        let cni = ["bash", "/kube-ovn/start-cniserver.sh"];
        let cni = running(DaemonSet, "cni", image, &cni);
        assert_eq!(
            component(&c, &cni),
            Some(("kube-ovn-cni".into(), format!("image {image}")))
        );
        // The chart's upgrade hook runs the same image with a shell script: nothing.
        let hook = running(
            Deployment,
            "hook",
            image,
            &["bash", "-eo", "pipefail", "-c"],
        );
        assert_eq!(component(&c, &hook), None);

        // NVIDIA's image runs the device plugin by default, and GPU feature discovery when
        // told to (deployments/static/gpu-feature-discovery-daemonset.yaml).
        let image = "nvcr.io/nvidia/k8s-device-plugin:v0.20.0";
        let plugin = running(DaemonSet, "gpu", image, &[]);
        let m = component(&c, &plugin).unwrap();
        assert_eq!(m.0, "nvidia-device-plugin");
        assert!(
            m.1.starts_with(&format!(
                "image {image} with args not \"*gpu-feature-discovery\" or"
            )),
            "{}",
            m.1
        );
        let gfd = ["/usr/bin/gpu-feature-discovery"];
        assert_eq!(component(&c, &running(DaemonSet, "gfd", image, &gfd)), None);
        // The Helm chart's device plugin: a config-manager init container, then the plugin.
        let mut helm = running(DaemonSet, "gpu", image, &["config-manager"]);
        let mut pod = (*helm.pod).clone();
        let mut main = pod.containers[0].clone();
        main.command = pg_model::CommandLine::new(["nvidia-device-plugin"]);
        pod.containers.push(main);
        helm.pod = std::sync::Arc::new(pod);
        assert_eq!(component(&c, &helm).unwrap().0, "nvidia-device-plugin");
    }

    #[test]
    fn args_refine_images_and_a_policy_entry_with_args_alone_is_refused() {
        let path = std::env::temp_dir().join(format!("pg-args-{}.yaml", std::process::id()));
        std::fs::write(
            &path,
            "components:\n  - id: x\n    name: X\n    role: node-agent\n    args: [daemon]\n    names: [x]\n",
        )
        .unwrap();
        let err = Policy::from_file(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(
            err.contains("component x: `args` refines `images`"),
            "{err}"
        );
        for e in Catalog::builtin().entries() {
            assert!(e.args.is_empty() || !e.images.is_empty(), "{}", e.id);
        }
    }

    #[test]
    fn a_policy_file_with_a_regex_like_pattern_is_refused_naming_it() {
        let path = std::env::temp_dir().join(format!("pg-policy-{}.yaml", std::process::id()));
        let policy = |pattern: &str| {
            format!(
                "components:\n  - id: gpu\n    name: GPU\n    role: node-agent\n    images: [{pattern:?}]\n"
            )
        };
        std::fs::write(&path, policy("vendor/device-plugin[0-9]*")).unwrap();
        let err = Policy::from_file(&path).unwrap_err().to_string();
        std::fs::write(&path, policy("vendor/device-plugin*")).unwrap();
        let ok = Policy::from_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert!(
            err.contains("component gpu: pattern \"vendor/device-plugin[0-9]*\" contains '['")
                && err.contains("not regular expressions"),
            "{err}"
        );
        assert_eq!(ok.unwrap().components[0].images, ["vendor/device-plugin*"]);
    }

    #[test]
    fn a_likely_signal_says_so_and_the_policy_file_can_turn_it_up_or_off() {
        let structure = PodStructure {
            host_mounts: vec![],
            containers: vec![ContainerStructure {
                added_capabilities: vec!["NET_ADMIN".into()],
                ..ContainerStructure::default()
            }],
        };
        let w = daemonset("net-agent", "example.org/agent:1", Some(structure));
        let mut c = Catalog::builtin();
        let m = c.classify(&w).unwrap();
        assert_eq!(m.id, "host-network-admin");
        assert!(m.likely);
        assert_eq!(m.severity, Some(Severity::Warning));
        assert!(
            m.matched_by
                .contains("hostNetwork, adds capability NET_ADMIN"),
            "{}",
            m.matched_by
        );
        let mut policy = Policy::default();
        policy
            .recognition
            .insert("host-network-admin".into(), SeverityOverride::Error);
        c.apply(&policy).unwrap();
        assert_eq!(c.classify(&w).unwrap().severity, Some(Severity::Error));
        policy
            .recognition
            .insert("host-network-admin".into(), SeverityOverride::Off);
        c.apply(&policy).unwrap();
        assert!(c.classify(&w).is_none());
        policy
            .recognition
            .insert("no-such-id".into(), SeverityOverride::Off);
        assert!(matches!(c.apply(&policy), Err(CatalogError::UnknownId(_))));
    }

    /// A policy file may be exactly [`MAX_POLICY_BYTES`] long (all of it read: the last byte
    /// counts), not one byte more.
    #[test]
    fn a_policy_file_of_max_policy_bytes_is_read_whole_and_one_byte_more_is_refused() {
        let path = std::env::temp_dir().join(format!("pg-size-{}.yaml", std::process::id()));
        // Padding in a comment, then a setting whose last byte changes its meaning.
        let tail = "\nchecks:\n  no-priority: info";
        let padding = MAX_POLICY_BYTES as usize - tail.len() - 2;
        let at_limit = format!("# {}{tail}", "x".repeat(padding));
        assert_eq!(at_limit.len() as u64, MAX_POLICY_BYTES);
        std::fs::write(&path, &at_limit).unwrap();
        let read = Policy::from_file(&path);
        std::fs::write(&path, format!("{at_limit}\n")).unwrap();
        let over = Policy::from_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            read.unwrap().checks.get(&CheckId::NoPriority),
            Some(&SeverityOverride::Info)
        );
        let err = over.unwrap_err().to_string();
        assert!(
            err.ends_with(": larger than 4 MiB; a policy file is a few lines of YAML"),
            "{err}"
        );
    }

    fn policy_entry(yaml: &str) -> Entry {
        pg_yaml::from_str(yaml).unwrap()
    }

    /// Entries without `args` are fine with or without images (MetalLB's speaker by its name
    /// only), and `args` with images too; only `args` without images is refused.
    #[test]
    fn a_policy_entry_needs_images_only_when_it_has_args() {
        let path = std::env::temp_dir().join(format!("pg-entries-{}.yaml", std::process::id()));
        std::fs::write(
            &path,
            "components:
  - id: site-speaker
    name: MetalLB speaker (site build)
    role: node-agent
    names: [speaker]
    namespaces: [metallb-system]
  - id: site-longhorn
    name: Longhorn manager (mirror)
    role: node-agent
    images: [mirror.example.com/longhornio/longhorn-manager]
    args: [longhorn-manager daemon]
",
        )
        .unwrap();
        let policy = Policy::from_file(&path);
        std::fs::remove_file(&path).unwrap();
        let ids: Vec<String> = policy
            .unwrap()
            .components
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["site-speaker", "site-longhorn"]);
    }

    /// A policy entry is tried before every built-in one whatever its patterns: its label
    /// beats the built-in entry's exact image.
    #[test]
    fn a_policy_entry_wins_over_more_specific_builtin_patterns() {
        let multus = || {
            let mut w = daemonset(
                "kube-multus-ds",
                "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0-thick",
                None,
            );
            std::sync::Arc::make_mut(&mut w.pod).labels = vec![("app".into(), "multus".into())];
            w
        };
        let mut c = Catalog::builtin();
        assert_eq!(c.classify(&multus()).unwrap().id, "multus");
        c.extend(&[policy_entry(
            "id: multus-thick
name: Multus CNI (thick plugin)
role: node-agent
labels: [app=multus]
",
        )]);
        let m = c.classify(&multus()).unwrap();
        assert_eq!(
            (m.id.as_str(), m.matched_by.as_str()),
            ("multus-thick", "label app=multus")
        );
    }

    /// Each rule holds the patterns of one specificity only (images with their `args`; one
    /// rule for all the `*` patterns of an entry), and an entry's rules hold all its patterns:
    /// the admission policies generated from the rules test them in this order.
    #[test]
    fn each_rule_holds_one_kind_of_pattern_and_an_entrys_rules_hold_all_of_its() {
        let mut c = Catalog::builtin();
        c.extend(&[policy_entry(
            "id: powerflex-csi-node
name: Dell PowerFlex CSI node plugin
role: node-agent
images: [dellemc/csi-vxflexos]
args: [\"!*--leader-election*\"]
names: [vxflexos-node]
containers: [driver]
labels: [app=vxflexos-node]
host_paths: [/var/lib/kubelet/plugins/vxflexos.emc.dell.com]
",
        )]);
        assert!(c.rules().len() > c.entries().len());
        for rule in c.rules() {
            let kinds = [
                &rule.images,
                &rule.names,
                &rule.containers,
                &rule.labels,
                &rule.host_paths,
            ];
            // `*` patterns share one specificity, whatever they match.
            let globs_only = kinds.iter().all(|p| p.iter().all(|p| p.contains('*')));
            let kinds = kinds.iter().filter(|p| !p.is_empty()).count();
            assert!(kinds == 1 || kinds > 1 && globs_only, "{rule:#?}");
            assert!(rule.args.is_empty() || !rule.images.is_empty(), "{rule:#?}");
        }
        for e in c.entries() {
            let rules: Vec<&Entry> = c.rules().iter().filter(|r| r.id == e.id).collect();
            let all = |field: fn(&Entry) -> &Vec<String>| {
                let mut got: Vec<&String> = rules.iter().flat_map(|r| field(r)).collect();
                let mut want: Vec<&String> = field(e).iter().collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{}", e.id);
            };
            all(|e| &e.images);
            all(|e| &e.names);
            all(|e| &e.containers);
            all(|e| &e.labels);
            all(|e| &e.host_paths);
            for r in rules.iter().filter(|r| !r.images.is_empty()) {
                assert_eq!(r.args, e.args, "{}", e.id);
            }
        }
    }

    /// Exact image rules are tried longest repository first (`rocm/k8s-device-plugin` before
    /// any one-segment image), whatever the entry order.
    #[test]
    fn exact_images_are_tried_longest_repository_first() {
        let segments: Vec<usize> = Catalog::builtin()
            .rules()
            .iter()
            .filter(|r| r.images.first().is_some_and(|p| !p.contains('*')))
            .map(|r| r.images[0].split('/').count())
            .collect();
        assert!(segments.windows(2).all(|w| w[0] >= w[1]), "{segments:?}");
        assert!(segments.first() > segments.last(), "{segments:?}");
    }

    /// `kinds` counts a pod as the kind of its owner: a policy entry for DaemonSets recognises
    /// the DaemonSet's pods (by the owner's name), not a bare Pod of the same name.
    #[test]
    fn a_pod_counts_as_its_owners_kind() {
        let mut c = Catalog::builtin();
        c.extend(&[policy_entry(
            "id: site-log-shipper
name: Fluent Bit (this site ships audit logs with it)
role: node-agent
kinds: [DaemonSet]
names: [fluent-bit]
namespaces: [logging]
",
        )]);
        let image = "cr.fluentbit.io/fluent/fluent-bit:4.0.3";
        let mut pod = daemonset("fluent-bit-5xq8t", image, None);
        pod.kind = WorkloadKind::Pod;
        pod.namespace = Some("logging".into());
        pod.owner = Some(pg_model::OwnerRef {
            kind: "DaemonSet".into(),
            name: "fluent-bit".into(),
        });
        let m = c.classify(&pod).unwrap();
        assert_eq!(
            (m.id.as_str(), m.matched_by.as_str()),
            ("site-log-shipper", "name fluent-bit")
        );
        // Owned by something that is no workload kind: judged as a Pod.
        pod.owner.as_mut().unwrap().kind = "FluentBit".into();
        assert_eq!(c.classify(&pod), None);
        pod.owner = None;
        pod.name = "fluent-bit".into();
        assert_eq!(c.classify(&pod), None);
    }

    /// A name matched by a `*` pattern says so: it is a weaker match than an exact one.
    #[test]
    fn a_glob_match_names_its_pattern() {
        let c = Catalog::builtin();
        let templated = "{{ .Values.image.repository }}:{{ .Values.image.tag }}";
        let m = c
            .classify(&daemonset("kube-multus-ds-amd64", templated, None))
            .unwrap();
        assert_eq!(
            (m.id.as_str(), m.matched_by.as_str()),
            (
                "multus",
                "name kube-multus-ds-amd64 (pattern kube-multus-ds*)"
            )
        );
        let m = c
            .classify(&daemonset("kube-proxy", templated, None))
            .unwrap();
        assert_eq!(
            (m.id.as_str(), m.matched_by.as_str()),
            ("kube-proxy", "name kube-proxy")
        );
    }

    /// Why entry `id` (built in, or `extra`) matches `w`, asked of that entry alone.
    fn entry_matches(c: &Catalog, id: &str, w: &Workload) -> Option<String> {
        c.entry(id).unwrap().matches(&entry::Subject::of(w))
    }

    fn with_pod(mut w: Workload, change: impl FnOnce(&mut PodSpecFacts)) -> Workload {
        change(std::sync::Arc::make_mut(&mut w.pod));
        w
    }

    /// A label pattern needs its key and its value: Calico's controllers are labelled
    /// `k8s-app=calico-kube-controllers`, and `app.kubernetes.io/name=calico-node` is another key.
    #[test]
    fn a_label_pattern_matches_its_key_with_its_value() {
        let c = Catalog::builtin();
        let templated = "{{ .Values.calicoNode.image }}";
        let labelled = |k: &str, v: &str| {
            with_pod(daemonset("calico", templated, None), |p| {
                p.labels = vec![(k.into(), v.into())];
            })
        };
        let node = labelled("k8s-app", "calico-node");
        assert_eq!(
            entry_matches(&c, "calico-node", &node).as_deref(),
            Some("label k8s-app=calico-node")
        );
        let controllers = labelled("k8s-app", "calico-kube-controllers");
        assert_eq!(entry_matches(&c, "calico-node", &controllers), None);
        let other_key = labelled("app.kubernetes.io/name", "calico-node");
        assert_eq!(entry_matches(&c, "calico-node", &other_key), None);
    }

    /// Host paths count at or under the entry's paths, and only on the host network when the
    /// entry says so (the built-in `cni-agent`); a policy entry without `host_network` takes any
    /// pod mounting them (a CSI node plugin's own directory).
    #[test]
    fn host_paths_count_at_or_under_the_entrys_and_on_the_host_network_if_asked() {
        let mut c = Catalog::builtin();
        c.extend(&[policy_entry(
            "id: powerflex-csi-node
name: Dell PowerFlex CSI node plugin
role: node-agent
host_paths: [/var/lib/kubelet/plugins/vxflexos.emc.dell.com]
",
        )]);
        let agent = |host_network: bool, path: &str| {
            with_pod(daemonset("net-agent", "example.org/agent:1", None), |p| {
                p.host_network = host_network;
                p.host_paths = vec![path.into()];
            })
        };
        let cni = |w: &Workload| entry_matches(&c, "cni-agent", w);
        assert_eq!(
            cni(&agent(true, "/etc/cni/net.d")).as_deref(),
            Some("hostNetwork + hostPath /etc/cni/net.d")
        );
        assert_eq!(
            cni(&agent(true, "/opt/cni/bin/")).as_deref(),
            Some("hostNetwork + hostPath /opt/cni/bin/")
        );
        assert_eq!(cni(&agent(false, "/etc/cni/net.d")), None);
        assert_eq!(cni(&agent(true, "/etc/cni/net.d-backup")), None);
        assert_eq!(cni(&agent(true, "/etc/cni")), None);

        let plugin_dir = "/var/lib/kubelet/plugins/vxflexos.emc.dell.com/";
        for host_network in [false, true] {
            assert_eq!(
                entry_matches(&c, "powerflex-csi-node", &agent(host_network, plugin_dir)),
                Some(format!("hostPath {plugin_dir}"))
            );
        }
    }

    /// What signal `id` saw in `w`, asked of that signal alone.
    fn signal_sees(c: &Catalog, id: &str, w: &Workload) -> Option<String> {
        let seen = c.signal(id).unwrap().matches(&entry::Subject::of(w), &[])?;
        Some(seen.split(": ").next().unwrap().to_string())
    }

    fn mounting(path: &str, writable: bool) -> PodStructure {
        PodStructure {
            host_mounts: vec![pg_model::HostMount {
                path: path.into(),
                writable,
            }],
            containers: vec![ContainerStructure::default()],
        }
    }

    /// A signal that asks for a writable mount (a CNI agent writes its config) refuses a
    /// read-only one; one that does not ask takes either.
    #[test]
    fn only_a_signal_asking_for_a_writable_mount_refuses_a_read_only_one() {
        let c = Catalog::builtin();
        let csi = |writable| {
            let structure = mounting("/var/lib/kubelet/plugins/smb.csi.k8s.io", writable);
            daemonset("csi-smb-node", "example.org/smb:1", Some(structure))
        };
        for writable in [false, true] {
            assert_eq!(
                signal_sees(&c, "kubelet-plugin-registration", &csi(writable)).as_deref(),
                Some("mounts hostPath /var/lib/kubelet/plugins/smb.csi.k8s.io")
            );
        }
        let cni = |writable| {
            let structure = mounting("/etc/cni/net.d", writable);
            daemonset("cni-reader", "example.org/cni:1", Some(structure))
        };
        assert_eq!(
            signal_sees(&c, "cni-config-writer", &cni(true)).as_deref(),
            Some("mounts writable hostPath /etc/cni/net.d")
        );
        assert_eq!(signal_sees(&c, "cni-config-writer", &cni(false)), None);
    }

    /// The static pod signal takes a Pod no controller owns, read from a file: not a
    /// DaemonSet with the same spec, nor a bare Pod read back from the cluster
    /// (`kubectl node-shell`'s), nor a Pod a DaemonSet owns.
    #[test]
    fn a_static_pod_is_a_pod_from_a_file_that_no_controller_owns() {
        let c = Catalog::builtin();
        let haproxy = || {
            let structure = mounting("/etc/haproxy", false);
            let mut w = daemonset(
                "haproxy-node-1",
                "docker.io/library/haproxy:3.2",
                Some(structure),
            );
            w.kind = WorkloadKind::Pod;
            w
        };
        assert_eq!(
            signal_sees(&c, "static-pod-manifest", &haproxy()).as_deref(),
            Some(
                "in namespace kube-system, a Pod no controller owns, mounts hostPath /etc/haproxy, hostNetwork"
            )
        );
        let mut daemonset = haproxy();
        daemonset.kind = WorkloadKind::DaemonSet;
        assert_eq!(signal_sees(&c, "static-pod-manifest", &daemonset), None);
        let mut from_api = haproxy();
        from_api.name = "nsenter-k2m8dq".into();
        from_api.from_api = true;
        assert_eq!(signal_sees(&c, "static-pod-manifest", &from_api), None);
        let mut owned = haproxy();
        owned.owner = Some(pg_model::OwnerRef {
            kind: "DaemonSet".into(),
            name: "haproxy".into(),
        });
        assert_eq!(signal_sees(&c, "static-pod-manifest", &owned), None);
    }

    /// A privileged container has every capability: it counts as adding the ones a signal
    /// asks for (kube-router runs so, on the host network).
    #[test]
    fn a_privileged_container_has_the_capabilities_a_signal_asks_for() {
        let c = Catalog::builtin();
        let mut structure = PodStructure::default();
        structure.containers.push(ContainerStructure {
            privileged: true,
            ..ContainerStructure::default()
        });
        let w = daemonset("bgp-agent", "example.org/bgp-agent:2", Some(structure));
        assert_eq!(
            signal_sees(&c, "host-network-admin", &w).as_deref(),
            Some("hostNetwork, runs a privileged container")
        );
        let unprivileged = daemonset(
            "bgp-agent",
            "example.org/bgp-agent:2",
            Some(mounting("/var/run/bird", true)),
        );
        assert_eq!(signal_sees(&c, "host-network-admin", &unprivileged), None);
    }

    /// A signal's `containers` match a container's name or its image's last path segment
    /// (CSI's registrar sidecar is named either way).
    #[test]
    fn a_signals_containers_match_the_container_name_or_the_image() {
        let signal: Signal = pg_yaml::from_str(
            "id: csi-registrar
name: CSI node plugin
role: node-agent
why: it registers a CSI driver with the kubelet
source: https://kubernetes-csi.github.io/docs/node-driver-registrar.html
containers: [csi-node-driver-registrar]
",
        )
        .unwrap();
        let registrar = |name: &str, image: &str| {
            let mut w = daemonset("csi-node", "example.org/driver:1", None);
            let pod = std::sync::Arc::make_mut(&mut w.pod);
            pod.containers.push(Container {
                name: name.into(),
                image: image.into(),
                ..pod.containers[0].clone()
            });
            w
        };
        let seen = |w: &Workload| signal.matches(&entry::Subject::of(w), &[]);
        let image = "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.13.0";
        assert!(seen(&registrar("node-driver-registrar", image)).is_some());
        let templated = "{{ .Values.image.registrar }}";
        assert!(seen(&registrar("csi-node-driver-registrar", templated)).is_some());
        assert_eq!(seen(&registrar("liveness-probe", templated)), None);
    }
}
