//! The fields of a Kubernetes object that priorityguard reads, as serde structs.
//!
//! Both YAML documents (through [`crate::de`]) and streamed JSON items land here, and
//! [`RawObject::into_object`] is the one place that decides what an object means. Every field
//! is optional and unknown fields are skipped without being stored, which keeps a 150,000-pod
//! dump cheap to read.

use pg_model::{
    ClassRef, CommandLine, Container, ContainerStructure, FailClosedWebhook, HostMount,
    MANAGED_BY_ANNOTATIONS, ManagedBy, Object, OwnerRef, PodSpecFacts, PodStructure,
    PriorityClassDef, QuotaConfig, ResourceQuotaDef, ServiceDef, WebhookConfigDef, Workload,
    WorkloadKind,
};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// Any scalar (or, ignored, any collection): templated files put text where numbers belong.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Collection,
}

impl Scalar {
    pub fn as_text(&self) -> Option<String> {
        match self {
            Scalar::Str(s) => Some(s.clone()),
            Scalar::Int(i) => Some(i.to_string()),
            Scalar::Bool(b) => Some(b.to_string()),
            Scalar::Float(f) => Some(f.to_string()),
            Scalar::Null | Scalar::Collection => None,
        }
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            Scalar::Int(i) => Some(*i),
            Scalar::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            Scalar::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn is_true(&self) -> bool {
        matches!(self, Scalar::Bool(true)) || matches!(self, Scalar::Str(s) if s == "true")
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
                Scalar::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(i64::try_from(v).map_or(Scalar::Float(v as f64), Scalar::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Collection)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Collection)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawObject {
    pub api_version: Option<Scalar>,
    pub kind: Option<Scalar>,
    pub metadata: RawMeta,
    pub spec: Option<RawSpec>,
    // PriorityClass
    pub value: Option<Scalar>,
    pub global_default: Option<Scalar>,
    pub preemption_policy: Option<Scalar>,
    // AdmissionConfiguration and ResourceQuotaConfiguration
    pub plugins: Option<Vec<RawPlugin>>,
    pub limited_resources: Option<Vec<RawLimitedResource>>,
    // Validating- and MutatingWebhookConfiguration
    #[serde(deserialize_with = "seq_or_nothing")]
    pub webhooks: Option<Vec<RawWebhook>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawMeta {
    pub name: Option<Scalar>,
    pub namespace: Option<Scalar>,
    pub uid: Option<Scalar>,
    /// Read only by watches (`serve`), which resume from the last version they saw.
    pub resource_version: Option<Scalar>,
    pub labels: Option<BTreeMap<String, Scalar>>,
    pub annotations: RawAnnotations,
    pub owner_references: Option<Vec<RawOwner>>,
}

/// Static pods' mirror objects carry it (the kubelet treats them as critical).
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Whether an annotation is one priorityguard reads: the mirror-pod marker and the marks of
/// the tools that deploy a workload ([`ManagedBy`]).
pub fn annotation_read(key: &str) -> bool {
    key == MIRROR_ANNOTATION || MANAGED_BY_ANNOTATIONS.contains(&key)
}

/// The annotations that [`annotation_read`] names, with their values; the others are skipped
/// without being stored (they hold whole last-applied manifests). Anything but a map, as a
/// template's placeholder, is no annotations.
#[derive(Clone, Debug, Default)]
pub struct RawAnnotations(Vec<(String, String)>);

impl RawAnnotations {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl<'de> Deserialize<'de> for RawAnnotations {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAnnotations;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<RawAnnotations, A::Error> {
                let mut kept = Vec::new();
                while let Some(key) = a.next_key::<Scalar>()? {
                    match key.as_text().filter(|k| annotation_read(k)) {
                        Some(key) => {
                            let value = a.next_value::<Scalar>()?.as_text();
                            kept.push((key, value.unwrap_or_default()));
                        }
                        None => {
                            a.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(RawAnnotations(kept))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<RawAnnotations, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawAnnotations::default())
            }
            fn visit_some<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<RawAnnotations, D::Error> {
                RawAnnotations::deserialize(d)
            }
            fn visit_none<E>(self) -> Result<RawAnnotations, E> {
                Ok(RawAnnotations::default())
            }
            fn visit_unit<E>(self) -> Result<RawAnnotations, E> {
                Ok(RawAnnotations::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<RawAnnotations, E> {
                Ok(RawAnnotations::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<RawAnnotations, E> {
                Ok(RawAnnotations::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<RawAnnotations, E> {
                Ok(RawAnnotations::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<RawAnnotations, E> {
                Ok(RawAnnotations::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<RawAnnotations, E> {
                Ok(RawAnnotations::default())
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawOwner {
    pub kind: Option<Scalar>,
    pub name: Option<Scalar>,
    pub controller: Option<Scalar>,
}

/// The union of the spec fields we read: a pod spec, a controller spec (`template`,
/// `jobTemplate`) and a ResourceQuota spec (`scopeSelector`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawSpec {
    pub template: Option<Box<RawTemplate>>,
    pub job_template: Option<Box<RawJobTemplate>>,
    pub priority_class_name: Option<Scalar>,
    pub priority: Option<Scalar>,
    pub preemption_policy: Option<Scalar>,
    pub host_network: Option<Scalar>,
    pub containers: Option<Vec<RawContainer>>,
    pub init_containers: Option<Vec<RawContainer>>,
    pub volumes: Option<Vec<RawVolume>>,
    pub scope_selector: Option<RawScopeSelector>,
    /// A Service's selector (a controller's is a LabelSelector: its `matchLabels` is skipped).
    #[serde(deserialize_with = "map_or_nothing")]
    pub selector: Option<Vec<(String, Scalar)>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawTemplate {
    pub metadata: RawMeta,
    pub spec: Option<RawSpec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawJobTemplate {
    pub spec: Option<RawSpec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawContainer {
    pub name: Option<Scalar>,
    pub image: Option<Scalar>,
    #[serde(deserialize_with = "seq_or_nothing")]
    pub command: Option<Vec<Scalar>>,
    #[serde(deserialize_with = "seq_or_nothing")]
    pub args: Option<Vec<Scalar>>,
    #[serde(deserialize_with = "seq_or_nothing")]
    pub ports: Option<Vec<RawPort>>,
    #[serde(deserialize_with = "seq_or_nothing")]
    pub volume_mounts: Option<Vec<RawVolumeMount>>,
    pub security_context: Option<RawSecurityContext>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawPort {
    pub container_port: Option<Scalar>,
    pub host_port: Option<Scalar>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawVolumeMount {
    pub name: Option<Scalar>,
    pub read_only: Option<Scalar>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawSecurityContext {
    pub capabilities: Option<RawCapabilities>,
    pub privileged: Option<Scalar>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawCapabilities {
    #[serde(deserialize_with = "seq_or_nothing")]
    pub add: Option<Vec<Scalar>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawVolume {
    pub name: Option<Scalar>,
    pub host_path: Option<RawHostPath>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawWebhook {
    pub name: Option<Scalar>,
    pub failure_policy: Option<Scalar>,
    pub client_config: Option<RawClientConfig>,
    #[serde(deserialize_with = "seq_or_nothing")]
    pub rules: Option<Vec<RawWebhookRule>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawClientConfig {
    pub service: Option<RawServiceRef>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawServiceRef {
    pub name: Option<Scalar>,
    pub namespace: Option<Scalar>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawWebhookRule {
    #[serde(deserialize_with = "seq_or_nothing")]
    pub operations: Option<Vec<Scalar>>,
    #[serde(deserialize_with = "seq_or_nothing")]
    pub api_groups: Option<Vec<Scalar>>,
    #[serde(deserialize_with = "seq_or_nothing")]
    pub resources: Option<Vec<Scalar>>,
}

/// A list, or nothing when a template put something else (a placeholder) where it belongs.
fn seq_or_nothing<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: de::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Option<Vec<T>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = a.next_element()? {
                out.push(item);
            }
            Ok(Some(out))
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

/// A string-to-scalar map, or nothing when something else stands there.
fn map_or_nothing<'de, D>(d: D) -> Result<Option<Vec<(String, Scalar)>>, D::Error>
where
    D: de::Deserializer<'de>,
{
    match Option::<MapOrOther>::deserialize(d)? {
        Some(MapOrOther(m)) => Ok(m),
        None => Ok(None),
    }
}

struct MapOrOther(Option<Vec<(String, Scalar)>>);

impl<'de> Deserialize<'de> for MapOrOther {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MapOrOther;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<MapOrOther, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<Scalar, Scalar>()? {
                    if let (Some(k), Some(v)) = (k.as_text(), v.as_text()) {
                        out.push((k, Scalar::Str(v)));
                    }
                }
                Ok(MapOrOther(Some(out)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<MapOrOther, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MapOrOther(None))
            }
            fn visit_unit<E>(self) -> Result<MapOrOther, E> {
                Ok(MapOrOther(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<MapOrOther, E> {
                Ok(MapOrOther(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<MapOrOther, E> {
                Ok(MapOrOther(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<MapOrOther, E> {
                Ok(MapOrOther(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<MapOrOther, E> {
                Ok(MapOrOther(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<MapOrOther, E> {
                Ok(MapOrOther(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawHostPath {
    pub path: Option<Scalar>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawScopeSelector {
    pub match_expressions: Option<Vec<RawScopeExpression>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawScopeExpression {
    pub scope_name: Option<Scalar>,
    pub operator: Option<Scalar>,
    pub values: Option<Vec<Scalar>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawPlugin {
    pub name: Option<Scalar>,
    pub configuration: Option<Box<RawObject>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawLimitedResource {
    pub resource: Option<Scalar>,
    pub match_scopes: Option<Vec<RawScopeExpression>>,
}

/// The pod spec of an object, wherever its kind keeps it, with the path to it.
pub fn pod_spec_path(kind: WorkloadKind) -> &'static [&'static str] {
    match kind {
        WorkloadKind::Pod => &["spec"],
        WorkloadKind::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => &["spec", "template", "spec"],
    }
}

fn text(s: &Option<Scalar>) -> Option<String> {
    s.as_ref().and_then(Scalar::as_text)
}

impl RawObject {
    pub fn kind(&self) -> Option<String> {
        text(&self.kind)
    }

    /// `kind: List`, `PodList`, ...: a list of objects rather than an object. kubectl takes
    /// one in a file or on standard input, and refuses one inside another.
    pub fn is_list(&self) -> bool {
        self.kind().is_some_and(|k| k.ends_with("List"))
    }

    /// What this object means to priorityguard, or `None` for kinds it skips. Labels not
    /// in `keep_labels` (when given) are dropped: on a big pod list they are most of the memory.
    pub fn into_object(self, keep_labels: Option<&[String]>) -> Option<Object> {
        let kind = self.kind()?;
        if let Some(wk) = WorkloadKind::from_kind(&kind) {
            return Some(Object::Workload(Box::new(
                self.into_workload(wk, keep_labels),
            )));
        }
        match kind.as_str() {
            "PriorityClass" => Some(Object::PriorityClass(Box::new(PriorityClassDef {
                name: text(&self.metadata.name).unwrap_or_default(),
                value: self.value.as_ref().and_then(Scalar::as_int),
                global_default: self.global_default.as_ref().is_some_and(Scalar::is_true),
                preemption_policy: text(&self.preemption_policy),
                location: None,
            }))),
            "ResourceQuota" => {
                let priority_classes = self
                    .spec
                    .as_ref()
                    .and_then(|s| s.scope_selector.as_ref())
                    .and_then(|s| s.match_expressions.as_ref())
                    .map(|exprs| priority_class_values(exprs))
                    .unwrap_or_default();
                Some(Object::ResourceQuota(Box::new(ResourceQuotaDef {
                    namespace: text(&self.metadata.namespace),
                    name: text(&self.metadata.name).unwrap_or_default(),
                    priority_classes,
                    location: None,
                })))
            }
            "Service" => Some(Object::Service(Box::new(ServiceDef {
                namespace: text(&self.metadata.namespace).filter(|n| !n.is_empty()),
                name: text(&self.metadata.name).unwrap_or_default(),
                selector: self
                    .spec
                    .and_then(|s| s.selector)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v.as_text()?)))
                    .collect(),
                location: None,
            }))),
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
                // `failurePolicy` defaults to Fail in v1, to Ignore in v1beta1.
                let fail_by_default =
                    !text(&self.api_version).is_some_and(|v| v.ends_with("/v1beta1"));
                let webhooks: Vec<FailClosedWebhook> = self
                    .webhooks
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|w| fail_closed_pod_webhook(w, fail_by_default))
                    .collect();
                (!webhooks.is_empty()).then(|| {
                    Object::WebhookConfig(Box::new(WebhookConfigDef {
                        kind: kind.clone(),
                        name: text(&self.metadata.name).unwrap_or_default(),
                        webhooks,
                        location: None,
                    }))
                })
            }
            "ResourceQuotaConfiguration" => self.quota_config(),
            "AdmissionConfiguration" => self
                .plugins
                .unwrap_or_default()
                .into_iter()
                .filter(|p| text(&p.name).as_deref() == Some("ResourceQuota"))
                .find_map(|p| p.configuration.and_then(|c| c.quota_config())),
            _ => None,
        }
    }

    fn quota_config(&self) -> Option<Object> {
        let limited_classes: Vec<String> = self
            .limited_resources
            .iter()
            .flatten()
            .filter(|r| text(&r.resource).as_deref() == Some("pods"))
            .filter_map(|r| r.match_scopes.as_ref())
            .flat_map(|scopes| priority_class_values(scopes))
            .collect();
        (!limited_classes.is_empty()).then_some(Object::QuotaConfig(Box::new(QuotaConfig {
            limited_classes,
            location: None,
        })))
    }

    fn into_workload(self, kind: WorkloadKind, keep: Option<&[String]>) -> Workload {
        let meta = self.metadata;
        let (template_labels, spec) = match kind {
            WorkloadKind::Pod => (None, self.spec),
            WorkloadKind::CronJob => {
                let job_spec = self.spec.and_then(|s| s.job_template).and_then(|j| j.spec);
                let template = job_spec.and_then(|s| s.template);
                split_template(template)
            }
            _ => split_template(self.spec.and_then(|s| s.template)),
        };
        let spec = spec.unwrap_or_default();
        let managed_by = {
            let own = meta.labels.as_ref();
            let label = |k: &str| match own?.get(k)? {
                Scalar::Str(s) => Some(s.as_str()),
                _ => None,
            };
            ManagedBy::detect(label, |k| meta.annotations.get(k)).map(Box::new)
        };
        // A Pod's own labels are its pod labels: kept once, in `pod.labels`. Only pods are
        // many enough to drop labels for; a controller's template keeps them all, for the
        // Services that select it.
        let (labels, pod_labels) = match template_labels {
            Some(t) => (labels(meta.labels, None), labels(t.labels, None)),
            None => (Vec::new(), labels(meta.labels, keep)),
        };
        let owner = meta
            .owner_references
            .unwrap_or_default()
            .into_iter()
            .max_by_key(|o| o.controller.as_ref().is_some_and(Scalar::is_true))
            .and_then(|o| {
                Some(OwnerRef {
                    kind: text(&o.kind)?,
                    name: text(&o.name)?,
                })
            });
        Workload {
            kind,
            name: text(&meta.name).unwrap_or_default(),
            namespace: text(&meta.namespace).filter(|n| !n.is_empty()),
            labels,
            mirror: meta.annotations.get(MIRROR_ANNOTATION).is_some(),
            owner,
            from_api: meta.uid.is_some(),
            pod: pod_facts(spec, pod_labels).into(),
            location: None,
            managed_by,
        }
    }
}

fn split_template(t: Option<Box<RawTemplate>>) -> (Option<RawMeta>, Option<RawSpec>) {
    match t {
        Some(t) => {
            let t = *t;
            (Some(t.metadata), t.spec)
        }
        None => (None, None),
    }
}

fn labels(l: Option<BTreeMap<String, Scalar>>, keep: Option<&[String]>) -> Vec<(String, String)> {
    l.unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| keep.is_none_or(|keep| keep.iter().any(|x| x == k)))
        .filter_map(|(k, v)| Some((k, v.as_text()?)))
        .collect()
}

fn class_ref(s: Option<Scalar>) -> ClassRef {
    match s.and_then(|s| s.as_text()) {
        None => ClassRef::Missing,
        Some(s) if s.is_empty() => ClassRef::Empty,
        Some(s) if s.contains("{{") || s.contains("{%") => ClassRef::Templated {
            expression: s,
            default: None,
        },
        Some(name) => ClassRef::Literal { name },
    }
}

/// A webhook that refuses pod writes while its in-cluster service is down, if `w` is one.
fn fail_closed_pod_webhook(w: RawWebhook, fail_by_default: bool) -> Option<FailClosedWebhook> {
    let fails = text(&w.failure_policy).map_or(fail_by_default, |p| p == "Fail");
    let service = w.client_config?.service?;
    if !fails {
        return None;
    }
    let mut operations: Vec<String> = Vec::new();
    let mut all_resources = false;
    let mut pods = false;
    for rule in w.rules.unwrap_or_default() {
        let groups: Vec<String> = rule
            .api_groups
            .iter()
            .flatten()
            .filter_map(Scalar::as_text)
            .collect();
        if !groups.iter().any(|g| g.is_empty() || g == "*") {
            continue;
        }
        let resources: Vec<String> = rule
            .resources
            .iter()
            .flatten()
            .filter_map(Scalar::as_text)
            .collect();
        let any = resources.iter().any(|r| r == "*" || r == "*/*");
        if !any && !resources.iter().any(|r| r == "pods") {
            continue;
        }
        pods = true;
        all_resources |= any;
        for op in rule.operations.iter().flatten().filter_map(Scalar::as_text) {
            if !operations.contains(&op) {
                operations.push(op);
            }
        }
    }
    pods.then(|| FailClosedWebhook {
        name: text(&w.name).unwrap_or_default(),
        service_namespace: text(&service.namespace),
        service_name: text(&service.name).unwrap_or_default(),
        operations,
        all_resources,
    })
}

fn pod_facts(spec: RawSpec, labels: Vec<(String, String)>) -> PodSpecFacts {
    let raw_containers: Vec<(RawContainer, bool)> = spec
        .init_containers
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c, true))
        .chain(
            spec.containers
                .unwrap_or_default()
                .into_iter()
                .map(|c| (c, false)),
        )
        .collect();
    let volumes = spec.volumes.unwrap_or_default();
    let structure = structure(&raw_containers, &volumes);
    let containers = raw_containers
        .into_iter()
        .map(|(c, init)| {
            let words: Vec<String> = [&c.command, &c.args]
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(Scalar::as_text)
                .filter(|w| !w.is_empty())
                .take(CommandLine::MAX_WORDS)
                .collect();
            Container {
                name: text(&c.name).unwrap_or_default(),
                image: text(&c.image).unwrap_or_default(),
                init,
                image_from: None,
                command: CommandLine::new(words.iter().map(String::as_str)),
            }
        })
        .collect();
    PodSpecFacts {
        priority_class: class_ref(spec.priority_class_name),
        priority: spec.priority.as_ref().and_then(Scalar::as_int),
        preemption_never: text(&spec.preemption_policy).as_deref() == Some("Never"),
        host_network: spec.host_network.as_ref().is_some_and(Scalar::is_true),
        containers,
        host_paths: volumes
            .into_iter()
            .filter_map(|v| text(&v.host_path?.path))
            .collect(),
        labels,
        structure,
        positions: None,
    }
}

/// What the structural signals read, or `None` when the pod has none of it.
fn structure(
    containers: &[(RawContainer, bool)],
    volumes: &[RawVolume],
) -> Option<Box<PodStructure>> {
    let mut host_mounts: Vec<HostMount> = Vec::new();
    for v in volumes {
        let (Some(name), Some(path)) = (
            text(&v.name),
            v.host_path.as_ref().and_then(|h| text(&h.path)),
        ) else {
            continue;
        };
        let mounts = containers
            .iter()
            .flat_map(|(c, _)| c.volume_mounts.iter().flatten())
            .filter(|m| text(&m.name).as_deref() == Some(name.as_str()));
        let mut mounted = false;
        let mut writable = false;
        for m in mounts {
            mounted = true;
            writable |= !m.read_only.as_ref().is_some_and(Scalar::is_true);
        }
        if mounted {
            host_mounts.push(HostMount { path, writable });
        }
    }
    let per_container: Vec<ContainerStructure> = containers
        .iter()
        .map(|(c, _)| ContainerStructure {
            ports: c
                .ports
                .iter()
                .flatten()
                .flat_map(|p| [&p.container_port, &p.host_port])
                .filter_map(|p| p.as_ref().and_then(Scalar::as_int))
                .filter_map(|p| u16::try_from(p).ok())
                .collect(),
            added_capabilities: c
                .security_context
                .as_ref()
                .and_then(|s| s.capabilities.as_ref())
                .and_then(|c| c.add.as_ref())
                .into_iter()
                .flatten()
                .filter_map(Scalar::as_text)
                .collect(),
            privileged: c
                .security_context
                .as_ref()
                .and_then(|s| s.privileged.as_ref())
                .is_some_and(Scalar::is_true),
        })
        .collect();
    let s = PodStructure {
        host_mounts,
        containers: per_container,
    };
    (!s.is_empty()).then(|| Box::new(s))
}

fn priority_class_values(exprs: &[RawScopeExpression]) -> Vec<String> {
    exprs
        .iter()
        .filter(|e| text(&e.scope_name).as_deref() == Some("PriorityClass"))
        .filter(|e| text(&e.operator).as_deref() == Some("In"))
        .flat_map(|e| e.values.iter().flatten().filter_map(Scalar::as_text))
        .collect()
}
