use foldhash::{HashMap, HashMapExt, HashSet};
use pg_catalog::Catalog;
use pg_model::{
    ComponentMatch, Object, ObjectRef, PriorityClassDef, QuotaConfig, ResourceQuotaDef, ServiceDef,
    WebhookConfigDef, Workload, WorkloadKind, builtin_class,
};
use std::sync::Arc;

/// Indexes over the whole input that the checks consult: classes by name, workloads by
/// reference, the catalog's verdict for each workload.
pub struct Context<'a> {
    workloads: Vec<&'a Workload>,
    /// Shared: every pod of a DaemonSet has the same verdict.
    components: Vec<Option<Arc<ComponentMatch>>>,
    classes: HashMap<&'a str, &'a PriorityClassDef>,
    pub class_defs: Vec<&'a PriorityClassDef>,
    pub quotas: Vec<&'a ResourceQuotaDef>,
    pub quota_configs: Vec<&'a QuotaConfig>,
    by_ref: HashMap<(WorkloadKind, Option<&'a str>, &'a str), usize>,
    /// The same reference in several files (rare): every subject after the first.
    by_ref_more: HashMap<(WorkloadKind, Option<&'a str>, &'a str), Vec<usize>>,
}

/// (namespace, owner kind, owner name)
type OwnerKey<'a> = (Option<&'a str>, &'a str, &'a str);

/// Labels the checks read themselves (besides the catalog's).
pub const LABELS_USED: &[&str] = &["pod-template-hash"];

/// Where a subject's findings are reported: the workload at the top of its owner chain.
pub struct Group {
    pub object: ObjectRef,
    /// The subject index of that workload, when it is in the input.
    pub subject: Option<usize>,
    /// The file it comes from: the same object in two files is two objects.
    pub file: Option<Arc<str>>,
}

impl<'a> Context<'a> {
    pub fn new(objects: &'a [Object], catalog: &Catalog) -> Context<'a> {
        let mut ctx = Context {
            workloads: Vec::new(),
            components: Vec::new(),
            classes: HashMap::new(),
            class_defs: Vec::new(),
            quotas: Vec::new(),
            quota_configs: Vec::new(),
            by_ref: HashMap::new(),
            by_ref_more: HashMap::new(),
        };
        let routes = WebhookRoutes::new(objects);
        let classify = |w: &Workload| catalog.classify_with(w, &routes.to(w)).map(Arc::new);
        // Only the kinds owner references name are ever looked up ([`Context::find`]), and
        // Deployments (a ReplicaSet's, by its pod-template-hash): the pods of a dump are not,
        // and an index of 600,000 of them would be 50 MB for nothing.
        let looked_up: HashSet<WorkloadKind> = objects
            .iter()
            .filter_map(|o| match o {
                Object::Workload(w) => w.owner.as_ref(),
                _ => None,
            })
            .filter_map(|owner| WorkloadKind::from_kind(&owner.kind))
            .chain([WorkloadKind::Deployment])
            .collect();
        // Pods of one owner share a template: classify them once.
        let mut by_owner: HashMap<OwnerKey, Option<Arc<ComponentMatch>>> = HashMap::new();
        for o in objects {
            match o {
                Object::Workload(w) => {
                    let component = match &w.owner {
                        Some(owner) if w.kind == WorkloadKind::Pod => by_owner
                            .entry((w.namespace.as_deref(), &owner.kind, &owner.name))
                            .or_insert_with(|| classify(w))
                            .clone(),
                        _ => classify(w),
                    };
                    if looked_up.contains(&w.kind) {
                        let key = (w.kind, w.namespace.as_deref(), w.name.as_str());
                        if ctx.by_ref.contains_key(&key) {
                            ctx.by_ref_more
                                .entry(key)
                                .or_default()
                                .push(ctx.workloads.len());
                        } else {
                            ctx.by_ref.insert(key, ctx.workloads.len());
                        }
                    }
                    ctx.workloads.push(w);
                    ctx.components.push(component);
                }
                Object::PriorityClass(c) => {
                    ctx.classes.entry(c.name.as_str()).or_insert(c);
                    ctx.class_defs.push(c);
                }
                Object::ResourceQuota(q) => ctx.quotas.push(q),
                Object::QuotaConfig(c) => ctx.quota_configs.push(c),
                Object::Service(_) | Object::WebhookConfig(_) => {}
            }
        }
        ctx
    }

    /// Every workload and pod, with its subject index.
    pub fn workloads(&self) -> impl Iterator<Item = (usize, &'a Workload)> + '_ {
        self.workloads.iter().copied().enumerate()
    }

    pub fn workload(&self, subject: usize) -> &'a Workload {
        self.workloads[subject]
    }

    pub fn component(&self, subject: usize) -> Option<&ComponentMatch> {
        self.components[subject].as_deref()
    }

    pub fn class_def(&self, name: &str) -> Option<&'a PriorityClassDef> {
        self.classes.get(name).copied()
    }

    /// The value a class name resolves to: built-in, or defined in the input.
    pub fn class_value(&self, name: &str) -> Option<i64> {
        builtin_class(name)
            .map(|b| b.value)
            .or_else(|| self.class_def(name).and_then(|c| c.value))
    }

    pub fn class_exists(&self, name: &str) -> bool {
        builtin_class(name).is_some() || self.classes.contains_key(name)
    }

    /// A workload by reference, preferring one from the same file as `near`.
    fn find(
        &self,
        kind: WorkloadKind,
        ns: Option<&str>,
        name: &str,
        near: &Workload,
    ) -> Option<usize> {
        let key = (kind, ns, name);
        let first = *self.by_ref.get(&key)?;
        let file = |s: usize| self.workloads[s].location.as_ref().map(|l| &l.file);
        let near_file = near.location.as_ref().map(|l| &l.file);
        std::iter::once(first)
            .chain(self.by_ref_more.get(&key).into_iter().flatten().copied())
            .find(|&s| file(s) == near_file)
            .or(Some(first))
    }

    /// Follows controller owner references up to the top-level workload. Owners missing from
    /// the input are named from the references (a ReplicaSet's Deployment from the
    /// `pod-template-hash` label).
    pub fn group(&self, subject: usize) -> Group {
        let mut current = subject;
        for _ in 0..8 {
            let w = self.workloads[current];
            let Some(owner) = &w.owner else { break };
            let Some(kind) = WorkloadKind::from_kind(&owner.kind) else {
                break;
            };
            let ns = w.namespace.as_deref();
            if let Some(next) = self.find(kind, ns, &owner.name, w) {
                current = next;
                continue;
            }
            let deployment = (kind == WorkloadKind::ReplicaSet)
                .then(|| deployment_of(w, &owner.name))
                .flatten();
            if let Some(d) = deployment {
                if let Some(next) = self.find(WorkloadKind::Deployment, ns, d, w) {
                    return self.group(next);
                }
                return Group {
                    object: object_ref(WorkloadKind::Deployment, ns, d),
                    subject: None,
                    file: file_of(w),
                };
            }
            return Group {
                object: object_ref(kind, ns, &owner.name),
                subject: None,
                file: file_of(w),
            };
        }
        let top = self.workloads[current];
        Group {
            object: top.object_ref(),
            subject: Some(current),
            file: file_of(top),
        }
    }
}

/// The fail-closed pod webhooks of the input and the Services they call: a workload those
/// Services select is on the path of every pod write the webhooks intercept.
struct WebhookRoutes<'a> {
    /// (webhook configuration, webhook index, the Service it calls)
    calls: Vec<(&'a WebhookConfigDef, usize, &'a ServiceDef)>,
}

impl<'a> WebhookRoutes<'a> {
    fn new(objects: &'a [Object]) -> WebhookRoutes<'a> {
        let services: HashMap<(&str, &str), &ServiceDef> = objects
            .iter()
            .filter_map(|o| match o {
                Object::Service(s) if !s.selector.is_empty() => Some((
                    (s.namespace.as_deref().unwrap_or("default"), s.name.as_str()),
                    &**s,
                )),
                _ => None,
            })
            .collect();
        let mut calls = Vec::new();
        for o in objects {
            let Object::WebhookConfig(config) = o else {
                continue;
            };
            for (i, hook) in config.webhooks.iter().enumerate() {
                let ns = hook.service_namespace.as_deref().unwrap_or("default");
                if let Some(service) = services.get(&(ns, hook.service_name.as_str())) {
                    calls.push((&**config, i, *service));
                }
            }
        }
        WebhookRoutes { calls }
    }

    /// One sentence per webhook whose Service selects `w`'s pods.
    fn to(&self, w: &Workload) -> Vec<String> {
        if self.calls.is_empty() {
            return Vec::new();
        }
        let ns = w.namespace_or_default();
        self.calls
            .iter()
            .filter(|(_, _, s)| {
                s.namespace.as_deref().unwrap_or("default") == ns
                    && s
                        .selector
                        .iter()
                        .all(|pair| w.pod.labels.iter().any(|l| l == pair))
            })
            .map(|(config, i, service)| {
                let hook = &config.webhooks[*i];
                let operations = if hook.operations.is_empty() {
                    "no operation".to_string()
                } else {
                    hook.operations.join(", ")
                };
                let what = if hook.all_resources {
                    "every resource"
                } else {
                    "pods"
                };
                format!(
                    "{} {} webhook {} fails closed on {operations} of {what} and calls Service {ns}/{}, which selects these pods",
                    config.kind, config.name, hook.name, service.name
                )
            })
            .collect()
    }
}

fn file_of(w: &Workload) -> Option<Arc<str>> {
    w.location.as_ref().map(|l| l.file.clone())
}

fn object_ref(kind: WorkloadKind, ns: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef {
        kind: kind.as_str().to_string(),
        namespace: ns.map(str::to_string),
        name: name.to_string(),
    }
}

/// `web-7d9f8b6c5` with `pod-template-hash: 7d9f8b6c5` belongs to Deployment `web`.
fn deployment_of<'w>(pod: &Workload, replica_set: &'w str) -> Option<&'w str> {
    let hash = pod
        .pod
        .labels
        .iter()
        .find(|(k, _)| k == "pod-template-hash")
        .map(|(_, v)| v.as_str())?;
    replica_set
        .strip_suffix(hash)
        .and_then(|s| s.strip_suffix('-'))
        .filter(|s| !s.is_empty())
}
