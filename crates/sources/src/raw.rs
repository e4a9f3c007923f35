//! The fields of a Kubernetes object that priorityguard reads, as serde structs.
//!
//! Both YAML documents (through [`crate::de`]) and streamed JSON items land here, and
//! [`RawObject::into_object`] is the one place that decides what an object means. Every field
//! is optional and unknown fields are skipped without being stored, which keeps a 150,000-pod
//! dump cheap to read.

use pg_model::{
    ClassRef, Container, Object, OwnerRef, PodSpecFacts, PriorityClassDef, QuotaConfig,
    ResourceQuotaDef, Workload, WorkloadKind,
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
    pub annotations: Option<BTreeMap<String, IgnoredAny>>,
    pub owner_references: Option<Vec<RawOwner>>,
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
#[serde(default)]
pub struct RawContainer {
    pub name: Option<Scalar>,
    pub image: Option<Scalar>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawVolume {
    pub host_path: Option<RawHostPath>,
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
        // A Pod's own labels are its pod labels: kept once, in `pod.labels`.
        let (labels, pod_labels) = match template_labels {
            Some(t) => (labels(meta.labels, keep), labels(t.labels, keep)),
            None => (Vec::new(), labels(meta.labels, keep)),
        };
        let annotations = meta.annotations.unwrap_or_default();
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
            mirror: annotations.contains_key("kubernetes.io/config.mirror"),
            owner,
            from_api: meta.uid.is_some(),
            pod: pod_facts(spec, pod_labels),
            location: None,
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

fn pod_facts(spec: RawSpec, labels: Vec<(String, String)>) -> PodSpecFacts {
    let containers = spec
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
        .map(|(c, init)| Container {
            name: text(&c.name).unwrap_or_default(),
            image: text(&c.image).unwrap_or_default(),
            init,
            image_from: None,
        })
        .collect();
    PodSpecFacts {
        priority_class: class_ref(spec.priority_class_name),
        priority: spec.priority.as_ref().and_then(Scalar::as_int),
        preemption_never: text(&spec.preemption_policy).as_deref() == Some("Never"),
        host_network: spec.host_network.as_ref().is_some_and(Scalar::is_true),
        containers,
        host_paths: spec
            .volumes
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| text(&v.host_path?.path))
            .collect(),
        labels,
        positions: None,
    }
}

fn priority_class_values(exprs: &[RawScopeExpression]) -> Vec<String> {
    exprs
        .iter()
        .filter(|e| text(&e.scope_name).as_deref() == Some("PriorityClass"))
        .filter(|e| text(&e.operator).as_deref() == Some("In"))
        .flat_map(|e| e.values.iter().flatten().filter_map(Scalar::as_text))
        .collect()
}
