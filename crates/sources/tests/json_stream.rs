//! The streaming JSON reader (`pg_sources::json::stream`) against serde_json: for any List or
//! array of objects, written compactly or indented and read a few bytes at a time, each item
//! means what serde_json makes of it whole (the reader cuts items down before deserializing
//! them; this is what protects that shortcut).

use pg_model::Object;
use pg_sources::json;
use pg_sources::raw::{RawObject, Scalar};
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::io::Read;

/// Hands out at most `chunk` bytes per read, as a pipe or a slow network would.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

const KEEP: &[&str] = &["k8s-app", "app", "pod-template-hash"];

fn keep() -> Vec<String> {
    KEEP.iter().map(|s| s.to_string()).collect()
}

/// What serde_json makes of one item read whole, as the reader should.
fn expected(item: &Value, list_kind: Option<&str>) -> Result<Option<Object>, ()> {
    let bytes = serde_json::to_vec(item).unwrap();
    let mut raw: RawObject = serde_json::from_slice(&bytes).map_err(|_| ())?;
    if raw.is_list() {
        return Err(());
    }
    if raw.kind.is_none() {
        raw.kind = list_kind.map(|k| Scalar::Str(k.to_string()));
    }
    // A name or namespace that is a number or a boolean is refused (when the kind is read).
    let not_a_string =
        |s: &Option<Scalar>| matches!(s, Some(Scalar::Int(_) | Scalar::Float(_) | Scalar::Bool(_)));
    let refused = not_a_string(&raw.metadata.name) || not_a_string(&raw.metadata.namespace);
    let keep = keep();
    match raw.into_object(Some(&keep)) {
        Some(_) if refused => Err(()),
        object => Ok(object),
    }
}

fn read(text: &[u8], chunk: usize) -> (Vec<Result<Option<Object>, String>>, Option<String>) {
    let keep = keep();
    let mut items = Vec::new();
    let result = json::stream(Trickle { data: text, chunk }, Some(&keep), |item| {
        items.push(item.object.map_err(|e| e.message));
    });
    (items, result.err().map(|e| e.message))
}

/// Strings that test the scanner: quotes, backslashes, brackets, escapes, non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.-]{0,12}",
        Just("Pod".to_string()),
        Just("system-node-critical".to_string()),
        Just("kubernetes.io/config.mirror".to_string()),
        Just("Helm".to_string()),
        "[\"\\\\{}\\[\\],: \n\té\u{1F600}a-z]{0,10}",
    ]
}

/// Keys: the fields priorityguard reads (at any depth) and others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "apiVersion", "kind", "metadata", "spec", "name", "namespace", "uid", "labels",
            "annotations", "ownerReferences", "controller", "template", "jobTemplate",
            "priorityClassName", "priority", "preemptionPolicy", "hostNetwork", "containers",
            "initContainers", "volumes", "image", "ports", "containerPort", "hostPort",
            "volumeMounts", "readOnly", "securityContext", "capabilities", "add", "privileged",
            "hostPath", "path", "status", "value", "k8s-app", "app", "pod-template-hash",
            "kubernetes.io/config.mirror", "selector", "webhooks",
            "app.kubernetes.io/managed-by", "meta.helm.sh/release-name",
            "meta.helm.sh/release-namespace", "argocd.argoproj.io/tracking-id",
            "argocd.argoproj.io/instance", "kustomize.toolkit.fluxcd.io/name",
            "kustomize.toolkit.fluxcd.io/namespace", "helm.toolkit.fluxcd.io/name",
            "helm.toolkit.fluxcd.io/namespace",
        ]).prop_map(str::to_string),
        1 => text(),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A Kubernetes-looking object: the fields that matter, well or badly typed, among others.
fn object() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop::sample::select(vec![
            "Pod",
            "DaemonSet",
            "Deployment",
            "CronJob",
            "PriorityClass",
            "Service",
            "List",
        ])),
        prop::collection::vec((key(), value()), 0..6),
        value(),
    )
        .prop_map(|(kind, extra, spec)| {
            let mut m = Map::new();
            if let Some(k) = kind {
                m.insert("kind".into(), Value::String(k.into()));
            }
            m.insert("spec".into(), spec);
            for (k, v) in extra {
                m.insert(k, v);
            }
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn every_item_reads_as_serde_json_reads_it_whole(
        items in prop::collection::vec(object(), 0..6),
        list_kind in prop::sample::select(vec!["List", "PodList"]),
        pretty in any::<bool>(),
        chunk in 1usize..9,
    ) {
        let list = serde_json::json!({"apiVersion": "v1", "kind": list_kind, "items": items});
        let text = if pretty {
            serde_json::to_vec_pretty(&list).unwrap()
        } else {
            serde_json::to_vec(&list).unwrap()
        };
        let (got, error) = read(&text, chunk);
        prop_assert_eq!(error, None);
        prop_assert_eq!(got.len(), items.len());
        let item_kind = list_kind.strip_suffix("List").filter(|k| !k.is_empty());
        for (g, item) in got.iter().zip(&items) {
            let want = expected(item, item_kind);
            match (g, &want) {
                (Ok(g), Ok(w)) => prop_assert_eq!(g, w, "item {}", item),
                (Err(_), Err(())) => {}
                _ => prop_assert!(false, "item {}: read {:?}, serde_json {:?}", item, g, want),
            }
        }
    }

    #[test]
    fn pods_with_the_fields_that_matter_read_as_serde_json_reads_them(
        pods in prop::collection::vec(pod(), 1..5),
        chunk in 1usize..9,
        pretty in any::<bool>(),
    ) {
        let list = serde_json::json!({"kind": "List", "items": pods});
        let text = if pretty {
            serde_json::to_vec_pretty(&list).unwrap()
        } else {
            serde_json::to_vec(&list).unwrap()
        };
        let (got, error) = read(&text, chunk);
        prop_assert_eq!(error, None);
        for (g, item) in got.iter().zip(&pods) {
            let want = expected(item, None).map_err(|()| "serde_json refused it".to_string());
            prop_assert_eq!(g, &want);
        }
    }
}

/// A pod as kubectl shows one, with random values where priorityguard looks.
fn pod() -> impl Strategy<Value = Value> {
    (
        text(),
        prop::option::of(text()),
        prop::collection::vec((key(), text()), 0..4),
        prop::option::of(text()),
        prop::collection::vec((text(), text(), value()), 0..3),
        value(),
        any::<bool>(),
    )
        .prop_map(|(name, ns, labels, class, containers, status, mirror)| {
            let labels: Map<String, Value> = labels
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            let mut annotations = serde_json::json!({"other": "x\"}]"});
            if mirror {
                annotations["kubernetes.io/config.mirror"] = Value::String("abc".into());
            }
            let containers: Vec<Value> = containers
                .into_iter()
                .map(|(n, image, extra)| {
                    serde_json::json!({
                        "name": n, "image": image, "env": extra,
                        "ports": [{"containerPort": 53, "hostPort": 53, "protocol": "UDP"}],
                        "volumeMounts": [{"name": "cni", "mountPath": "/x", "readOnly": extra}],
                        "securityContext": {"privileged": true, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}},
                    })
                })
                .collect();
            let mut spec = serde_json::json!({
                "containers": containers,
                "volumes": [{"name": "cni", "hostPath": {"path": "/etc/cni", "type": ""}}],
                "priority": 0,
            });
            if let Some(c) = class {
                spec["priorityClassName"] = Value::String(c);
            }
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name, "namespace": ns, "uid": "u", "labels": labels,
                    "annotations": annotations,
                    "ownerReferences": [{"kind": "DaemonSet", "name": "ds", "controller": true, "uid": "x"}],
                },
                "spec": spec,
                "status": status,
            })
        })
}

#[test]
fn a_pod_list_item_without_kind_is_a_pod() {
    let text = br#"{"kind":"PodList","items":[{"metadata":{"name":"a","labels":{"app":"x","other":"y"}},"spec":{"containers":[{"name":"c","image":"i"}]}}]}"#;
    let (got, error) = read(text, 3);
    assert_eq!(error, None);
    let Ok(Some(Object::Workload(w))) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(w.name, "a");
    assert_eq!(w.pod.labels, vec![("app".to_string(), "x".to_string())]);
}

#[test]
fn malformed_json_where_fields_are_read_gets_serde_json_s_error() {
    let text =
        br#"[{"kind":"Pod","metadata":{"name":"a",}}, {"kind":"Pod","metadata":{"name":"b"}}]"#;
    let (got, error) = read(text, 1 << 20);
    assert_eq!(error, None);
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].as_ref().unwrap_err(),
        "trailing comma",
        "the error serde_json gives for the whole item"
    );
    assert!(matches!(&got[1], Ok(Some(Object::Workload(w))) if w.name == "b"));
}
