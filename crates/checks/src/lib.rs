//! priorityguard's checks. One module per check under `rules`, registered in `rules::ALL`,
//! metadata in `checks.yaml`.
//!
//! [`audit`] runs every enabled check on every object, then folds findings about pods into
//! one finding per owning workload (Pod -> ReplicaSet -> Deployment, Pod -> DaemonSet, ...).

mod context;
mod group;
mod metadata;
mod rules;

pub use context::{Context, LABELS_USED};
pub use metadata::{checks_info, explanation};

use foldhash::{HashMap, HashMapExt};
use pg_catalog::{Catalog, Policy};
use pg_model::{
    CheckId, ComponentStatus, Finding, Object, PodSpecFacts, Severity, Workload, WorkloadKind,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The label keys an audit with `catalog` reads: the catalog's and [`LABELS_USED`]. Sources
/// may drop every other label (`keep_labels`), which on a big pod list is most of the memory.
pub fn labels_read(catalog: &Catalog) -> Vec<String> {
    let mut keys = catalog.label_keys();
    keys.extend(LABELS_USED.iter().map(|l| l.to_string()));
    keys
}

/// Whether `priorityguard fix` has a safe, mechanical edit for `id`'s findings, as its rule
/// declares.
pub fn is_fixable(id: CheckId) -> bool {
    rules::ALL.iter().any(|r| r.id == id && r.fixable)
}

/// Which checks run and how loud they are.
#[derive(Clone, Debug)]
pub struct Config {
    severities: BTreeMap<CheckId, Option<Severity>>,
}

impl Config {
    /// Defaults from `checks.yaml`; `no-priority` only with `all`; policy overrides on top.
    pub fn new(all: bool, policy: &Policy) -> Config {
        let mut severities: BTreeMap<CheckId, Option<Severity>> = checks_info()
            .into_iter()
            .map(|c| (c.id, Some(c.severity)))
            .collect();
        if !all {
            severities.insert(CheckId::NoPriority, None);
        }
        for (id, o) in &policy.checks {
            severities.insert(*id, o.severity());
        }
        Config { severities }
    }

    pub fn severity(&self, id: CheckId) -> Option<Severity> {
        self.severities.get(&id).copied().flatten()
    }
}

/// What an audit found.
#[derive(Debug, Default)]
pub struct Audit {
    pub findings: Vec<Finding>,
    pub components: Vec<ComponentStatus>,
}

/// What makes two pods alike for the checks: the same facts (shared by the reader, so compared
/// by address), owner, namespace, file and origin. The checks read nothing else of a pod but its
/// name and line, so pods alike get the same findings, and fold into the same groups.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct PodKey<'a> {
    facts: *const PodSpecFacts,
    namespace: Option<&'a str>,
    owner: (&'a str, &'a str),
    file: Option<*const u8>,
    mirror: bool,
    from_api: bool,
}

impl<'a> PodKey<'a> {
    /// Only pods with an owner: they are the many.
    fn of(w: &'a Workload) -> Option<PodKey<'a>> {
        let owner = w.owner.as_ref()?;
        (w.kind == WorkloadKind::Pod).then(|| PodKey {
            facts: Arc::as_ptr(&w.pod),
            namespace: w.namespace.as_deref(),
            owner: (&owner.kind, &owner.name),
            file: w.location.as_ref().map(|l| l.file.as_ptr()),
            mirror: w.mirror,
            from_api: w.from_api,
        })
    }
}

pub fn audit(objects: &[Object], catalog: &Catalog, config: &Config) -> Audit {
    let ctx = Context::new(objects, catalog);
    let mut folder = group::Folder::new(&ctx);
    // The findings each kind of pod was folded into, to fold the pods alike without checking
    // them again (a pod list is mostly the replicas of a few templates).
    let mut alike: HashMap<PodKey, Vec<usize>> = HashMap::new();
    for (subject, w) in ctx.workloads() {
        let key = PodKey::of(w);
        if let Some(found) = key.as_ref().and_then(|k| alike.get(k)) {
            folder.add_pod(subject, found);
            continue;
        }
        let mut found = Vec::new();
        let mut own_group = false;
        for draft in rules::check_workload(w, subject, &ctx) {
            if let Some(severity) = config.severity(draft.check) {
                // A likely component's findings say at most what its recognition allows.
                let cap = draft.component.as_ref().and_then(|c| c.severity);
                let (i, is_group_object) = folder.add(
                    subject,
                    cap.map_or(severity, |cap| severity.min(cap)),
                    draft,
                );
                found.push(i);
                own_group |= is_group_object;
            }
        }
        if let Some(key) = key.filter(|_| !own_group) {
            alike.insert(key, found);
        }
    }
    let mut findings = folder.finish();
    for def_finding in rules::check_input(&ctx) {
        if let Some(severity) = config.severity(def_finding.check) {
            findings.push(Finding {
                severity,
                ..def_finding
            });
        }
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.location.cmp(&b.location))
            .then_with(|| a.object.cmp(&b.object))
            .then_with(|| a.check.cmp(&b.check))
    });
    Audit {
        findings,
        components: group::components(&ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sources drop every label not listed here, so a key missing from it silently breaks
    /// recognition by label and the grouping of pods by template hash.
    #[test]
    fn labels_read_are_the_catalogs_and_the_checks_own() {
        let catalog = Catalog::builtin();
        let keys = labels_read(&catalog);
        let wanted = catalog.label_keys();
        assert!(!wanted.is_empty());
        for key in wanted
            .iter()
            .map(String::as_str)
            .chain(LABELS_USED.iter().copied())
        {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
        assert!(keys.iter().all(|k| !k.is_empty()), "{keys:?}");
    }

    /// What a pod of `image` says, with no class: priority 0, as the API stores it.
    fn unclassed(container: &str, image: &str) -> PodSpecFacts {
        PodSpecFacts {
            priority_class: pg_model::ClassRef::Missing,
            priority: Some(0),
            preemption_never: false,
            host_network: false,
            containers: vec![pg_model::Container {
                name: container.into(),
                image: image.into(),
                init: false,
                image_from: None,
                command: Default::default(),
            }],
            host_paths: vec![],
            labels: vec![],
            structure: None,
            positions: None,
        }
    }

    /// Pods `names` of `owner` (kind, name) as a cluster's pod list gives them: read from the
    /// API, sharing one `facts` as the JSON stream reader shares equal facts (or each with its
    /// own copy).
    fn pod_list(
        namespace: &str,
        owner: (&str, &str),
        names: &[&str],
        facts: &PodSpecFacts,
        shared: bool,
    ) -> Vec<Object> {
        let one = Arc::new(facts.clone());
        names
            .iter()
            .map(|name| {
                Object::Workload(Box::new(Workload {
                    kind: WorkloadKind::Pod,
                    name: name.to_string(),
                    namespace: Some(namespace.into()),
                    labels: vec![],
                    owner: Some(pg_model::OwnerRef {
                        kind: owner.0.into(),
                        name: owner.1.into(),
                    }),
                    from_api: true,
                    mirror: false,
                    pod: if shared {
                        one.clone()
                    } else {
                        Arc::new(facts.clone())
                    },
                    location: None,
                    managed_by: None,
                }))
            })
            .collect()
    }

    fn audit_all(objects: &[Object]) -> Audit {
        audit(
            objects,
            &Catalog::builtin(),
            &Config::new(true, &Policy::default()),
        )
    }

    /// kube-proxy's pods share their facts: checked once, every one of them is still listed in
    /// the DaemonSet's findings, which are those of checking each pod.
    #[test]
    fn pods_alike_are_checked_once_and_every_one_is_listed() {
        let facts = unclassed("kube-proxy", "registry.k8s.io/kube-proxy:v1.34.1");
        let names = ["kube-proxy-7xk2p", "kube-proxy-9fz4d", "kube-proxy-m2r8q"];
        let owner = ("DaemonSet", "kube-proxy");
        let shared = pod_list("kube-system", owner, &names, &facts, true);
        let result = audit_all(&shared);
        assert!(!result.findings.is_empty());
        for f in &result.findings {
            assert_eq!(f.object.to_string(), "kube-system/DaemonSet/kube-proxy");
            let listed: Vec<&str> = f.pods.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(listed, names, "{f:#?}");
        }
        let one_by_one = audit_all(&pod_list("kube-system", owner, &names, &facts, false));
        assert_eq!(result.findings, one_by_one.findings);
        assert_eq!(result.components, one_by_one.components);
        assert_eq!(result.components.len(), 1);
    }

    /// CloudNativePG's `Cluster` owns its Postgres pods directly: no workload kind, so each
    /// pod is its own group and gets its own findings, even with facts shared.
    #[test]
    fn pods_of_an_owner_that_is_no_workload_are_each_reported() {
        let facts = unclassed("postgres", "ghcr.io/cloudnative-pg/postgresql:17.5");
        let names = ["pg-main-1", "pg-main-2", "pg-main-3"];
        let owner = ("Cluster", "pg-main");
        let shared = pod_list("databases", owner, &names, &facts, true);
        let result = audit_all(&shared);
        let objects: Vec<String> = result
            .findings
            .iter()
            .map(|f| f.object.to_string())
            .collect();
        assert_eq!(
            objects,
            names.map(|n| format!("databases/Pod/{n}")),
            "{:#?}",
            result.findings
        );
        assert!(result.findings.iter().all(|f| f.pods.is_empty()));
        let one_by_one = audit_all(&pod_list("databases", owner, &names, &facts, false));
        assert_eq!(result.findings, one_by_one.findings);
    }

    /// The key that lets pods alike be checked once: only pods with an owner have one (they
    /// are the many). A ReplicaSet keyed like a pod would be listed among its Deployment's pods.
    #[test]
    fn only_owned_pods_have_a_key() {
        let facts = unclassed("coredns", "registry.k8s.io/coredns/coredns:v1.11.3");
        let owner = ("ReplicaSet", "coredns-668d6bf9bc");
        let pods = pod_list(
            "kube-system",
            owner,
            &["coredns-668d6bf9bc-4k7mz"],
            &facts,
            true,
        );
        let Object::Workload(pod) = &pods[0] else {
            unreachable!()
        };
        assert!(PodKey::of(pod).is_some());
        let replica_set = Workload {
            kind: WorkloadKind::ReplicaSet,
            name: "coredns-668d6bf9bc".into(),
            owner: Some(pg_model::OwnerRef {
                kind: "Deployment".into(),
                name: "coredns".into(),
            }),
            ..(**pod).clone()
        };
        assert!(PodKey::of(&replica_set).is_none());
        let bare = Workload {
            owner: None,
            ..(**pod).clone()
        };
        assert!(PodKey::of(&bare).is_none());
    }

    /// A policy's severity for a whole-input check (a PriorityClass the API refuses) replaces
    /// the check's own.
    #[test]
    fn a_policy_sets_the_severity_of_whole_input_checks() {
        let class = Object::PriorityClass(Box::new(pg_model::PriorityClassDef {
            name: "system-metallb".into(),
            value: Some(1_000_000),
            global_default: false,
            preemption_policy: None,
            location: None,
        }));
        let policy: Policy =
            pg_yaml::from_str("checks:\n  invalid-priority-class: info\n").unwrap();
        let result = audit(&[class], &Catalog::builtin(), &Config::new(false, &policy));
        let severities: Vec<(CheckId, Severity)> = result
            .findings
            .iter()
            .map(|f| (f.check, f.severity))
            .collect();
        assert_eq!(
            severities,
            [(CheckId::InvalidPriorityClass, Severity::Info)]
        );
    }
}
