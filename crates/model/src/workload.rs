use crate::{
    ClassRef, Location, ManagedBy, ObjectRef, PriorityClassDef, QuotaConfig, ResourceQuotaDef,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The kinds that create pods. Anything else in the input is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    DaemonSet,
    StatefulSet,
    ReplicaSet,
    ReplicationController,
    Job,
    CronJob,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 8] = [
        WorkloadKind::Pod,
        WorkloadKind::Deployment,
        WorkloadKind::DaemonSet,
        WorkloadKind::StatefulSet,
        WorkloadKind::ReplicaSet,
        WorkloadKind::ReplicationController,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
    ];

    pub fn from_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "Pod",
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::ReplicationController => "ReplicationController",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The controller named in a pod's (or ReplicaSet's, or Job's) `ownerReferences`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct OwnerRef {
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Hash, Eq, Serialize)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub init: bool,
    /// Where a templated image was resolved from (`roles/x/defaults/main.yml:12`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_from: Option<String>,
    /// The first words of `command` then `args`: what the catalog tells components sharing
    /// an image apart by.
    #[serde(skip_serializing_if = "CommandLine::is_empty")]
    pub command: CommandLine,
}

impl Container {
    /// `registry.k8s.io/x:v1`, or `registry.k8s.io/x:v1 (roles/x/defaults/main.yml:12)` when
    /// it was resolved from a template's variables.
    pub fn image_and_origin(&self) -> String {
        match &self.image_from {
            Some(from) => format!("{} ({from})", self.image),
            None => self.image.clone(),
        }
    }
}

/// The first words of a container's command line (`command`, then `args`; empty: the
/// image's own entrypoint and arguments). Only the first [`CommandLine::MAX_WORDS`] words are
/// kept, each cut to [`CommandLine::MAX_WORD_BYTES`] bytes: they say which program runs and
/// which subcommand, while whole command lines (shell scripts, long flag lists) would cost
/// memory on every distinct pod spec of a large cluster. One allocation: the words joined by
/// NUL, which no command line can contain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CommandLine(Box<str>);

impl CommandLine {
    pub const MAX_WORDS: usize = 8;
    pub const MAX_WORD_BYTES: usize = 128;

    /// Keeps the first words of `words` (empty words are skipped, NULs become spaces).
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>) -> CommandLine {
        let mut joined = String::new();
        for word in words
            .into_iter()
            .filter(|w| !w.is_empty())
            .take(Self::MAX_WORDS)
        {
            if !joined.is_empty() {
                joined.push('\0');
            }
            let mut end = word.len().min(Self::MAX_WORD_BYTES);
            while !word.is_char_boundary(end) {
                end -= 1;
            }
            joined.extend(word[..end].chars().map(|c| if c == '\0' { ' ' } else { c }));
        }
        CommandLine(joined.into_boxed_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The kept words, in order.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.0.split('\0').filter(|w| !w.is_empty())
    }
}

impl fmt::Display for CommandLine {
    /// The words separated by spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, word) in self.words().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(word)?;
        }
        Ok(())
    }
}

impl Serialize for CommandLine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.words())
    }
}

/// What the checks need to know about a pod spec (a Pod's own, or a controller's template).
#[derive(Clone, Debug, PartialEq, Hash, Eq, Serialize)]
pub struct PodSpecFacts {
    pub priority_class: ClassRef,
    /// `spec.priority`, which the API fills in from the class; templates should not set it.
    pub priority: Option<i64>,
    /// `preemptionPolicy: Never` in the pod spec (the API copies it from the class).
    pub preemption_never: bool,
    pub host_network: bool,
    pub containers: Vec<Container>,
    pub host_paths: Vec<String>,
    /// Labels of the pod (the template's labels for controllers).
    pub labels: Vec<(String, String)>,
    /// What only the structural signals read (mounts, ports, capabilities); boxed
    /// and `None` when there is nothing of it, so that a big pod list stays small.
    pub structure: Option<Box<PodStructure>>,
    /// Where the pod spec and its class are written; only files have them (boxed: pods from
    /// a cluster dump are many and never do).
    pub positions: Option<Box<SpecPositions>>,
}

/// The parts of a pod spec that say what a pod does on its node, for recognising critical
/// components by what they do rather than by name.
#[derive(Clone, Debug, Default, PartialEq, Hash, Eq, Serialize)]
pub struct PodStructure {
    /// hostPath volumes some container mounts.
    pub host_mounts: Vec<HostMount>,
    /// One per container, in the order of [`PodSpecFacts::containers`].
    pub containers: Vec<ContainerStructure>,
}

impl PodStructure {
    pub fn is_empty(&self) -> bool {
        self.host_mounts.is_empty() && self.containers.iter().all(ContainerStructure::is_empty)
    }
}

/// A hostPath volume as the containers mount it.
#[derive(Clone, Debug, PartialEq, Hash, Eq, Serialize)]
pub struct HostMount {
    /// The path on the node (`hostPath.path`).
    pub path: String,
    /// Some container mounts it without `readOnly: true`.
    pub writable: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Hash, Eq, Serialize)]
pub struct ContainerStructure {
    /// `containerPort` and `hostPort` numbers.
    pub ports: Vec<u16>,
    /// `securityContext.capabilities.add`, as written (`NET_ADMIN` or `CAP_NET_ADMIN`).
    pub added_capabilities: Vec<String>,
    /// `securityContext.privileged: true`: every capability.
    pub privileged: bool,
}

impl ContainerStructure {
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty() && self.added_capabilities.is_empty() && !self.privileged
    }
}

/// A Service, reduced to what routes traffic to workloads: its selector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceDef {
    pub namespace: Option<String>,
    pub name: String,
    pub selector: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A Validating- or MutatingWebhookConfiguration, reduced to its webhooks that fail closed on
/// pod writes: while the service behind one is down, the API server refuses those writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WebhookConfigDef {
    /// `ValidatingWebhookConfiguration` or `MutatingWebhookConfiguration`.
    pub kind: String,
    pub name: String,
    pub webhooks: Vec<FailClosedWebhook>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailClosedWebhook {
    pub name: String,
    pub service_namespace: Option<String>,
    pub service_name: String,
    /// The operations it intercepts on pods (`CREATE`, `UPDATE`, `*`...).
    pub operations: Vec<String>,
    /// It intercepts every resource (`*`), not only pods.
    pub all_resources: bool,
}

/// Positions inside a pod spec, for pointing at (and fixing) the right line.
#[derive(Clone, Debug, PartialEq, Hash, Eq, Serialize)]
pub struct SpecPositions {
    /// Where the pod spec mapping starts (for controllers: `spec.template.spec`).
    pub spec: Location,
    /// Where `priorityClassName` is written, when it is.
    pub class: Option<Location>,
    /// Where `priority` is written, when it is.
    pub priority: Option<Location>,
}

impl PodSpecFacts {
    pub fn spec_location(&self) -> Option<&Location> {
        self.positions.as_ref().map(|p| &p.spec)
    }

    pub fn class_location(&self) -> Option<&Location> {
        self.positions.as_ref().and_then(|p| p.class.as_ref())
    }

    pub fn priority_location(&self) -> Option<&Location> {
        self.positions.as_ref().and_then(|p| p.priority.as_ref())
    }
}

/// A pod-creating object from any source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// As written; in templates this keeps the template expressions.
    pub name: String,
    pub namespace: Option<String>,
    /// The object's own labels (for a Pod they are in `pod.labels` only).
    pub labels: Vec<(String, String)>,
    /// The controlling owner, from `ownerReferences`.
    pub owner: Option<OwnerRef>,
    /// True for objects read back from an API server (they carry `metadata.uid`): the API
    /// fills in `spec.priority` itself there.
    pub from_api: bool,
    /// Static pods' mirror objects: the kubelet treats them as critical whatever their class.
    pub mirror: bool,
    /// Shared: the pods of one owner usually have the same facts, and a pod list holds them once
    /// (change one through `Arc::make_mut`).
    pub pod: Arc<PodSpecFacts>,
    pub location: Option<Location>,
    /// The Helm release or GitOps object that applies it, from its own labels and annotations
    /// (boxed: most workloads, and every pod, have none).
    pub managed_by: Option<Box<ManagedBy>>,
}

impl Workload {
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind.as_str().to_string(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }
}

/// Everything sources hand to the checks. Variants are boxed: a pod list holds hundreds of
/// thousands of these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Object {
    Workload(Box<Workload>),
    PriorityClass(Box<PriorityClassDef>),
    ResourceQuota(Box<ResourceQuotaDef>),
    QuotaConfig(Box<QuotaConfig>),
    Service(Box<ServiceDef>),
    WebhookConfig(Box<WebhookConfigDef>),
}

#[cfg(test)]
mod tests {
    use super::CommandLine;

    #[test]
    fn a_command_line_keeps_its_first_words_cut_short() {
        let c = CommandLine::new(["longhorn-manager", "-d", "daemon", "", "--engine-image"]);
        assert_eq!(
            c.words().collect::<Vec<_>>(),
            ["longhorn-manager", "-d", "daemon", "--engine-image"]
        );
        assert_eq!(c.to_string(), "longhorn-manager -d daemon --engine-image");
        let many: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
        let c = CommandLine::new(many.iter().map(String::as_str));
        assert_eq!(c.words().count(), CommandLine::MAX_WORDS);
        let script = format!("é{}", "x".repeat(500));
        let c = CommandLine::new(["sh", "-c", &script, "a\0b"]);
        let words: Vec<&str> = c.words().collect();
        assert_eq!(words[2].len(), CommandLine::MAX_WORD_BYTES);
        assert_eq!(words[3], "a b");
        assert!(CommandLine::new([""]).is_empty());
        assert_eq!(CommandLine::default().words().count(), 0);
    }
}
