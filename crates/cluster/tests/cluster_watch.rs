//! `Watch` (for `serve`) against a real kube-apiserver: once synced it holds exactly what
//! `load` reads, it stays equal to `load` as objects change, and kinds the server does not
//! serve are skipped with `load`'s note.

mod common;

use common::*;
use pg_cluster::{Change, ClusterOptions, Watch, WatchState};
use pg_model::Object;
use pg_testenv::{Options, TestCluster};
use std::time::Duration;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `pg_cluster::load` from a thread of its own: it runs its own runtime, which may not be
/// started inside the tests' one.
fn load(opts: &ClusterOptions) -> pg_sources::Loaded {
    std::thread::scope(|s| s.spawn(|| pg_cluster::load(opts).unwrap()).join().unwrap())
}

/// The objects as comparable text, in a fixed order (the store's order is its own).
fn sorted(objects: &[Object]) -> Vec<String> {
    let mut out: Vec<String> = objects
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect();
    out.sort();
    out
}

async fn synced(watch: &mut Watch) -> Vec<Change> {
    let mut changes = Vec::new();
    while !watch.synced() {
        let next = tokio::time::timeout(Duration::from_secs(60), watch.next()).await;
        let change = next
            .expect("synced within 60 s")
            .unwrap()
            .expect("still watching");
        changes.push(change);
    }
    changes
}

/// Applies changes until the store equals what `load` reads now (at most 30 s).
async fn until_equal_to_load(watch: &mut Watch, opts: &ClusterOptions) {
    let expected = sorted(&load(opts).objects);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while sorted(watch.objects()) != expected {
        let Ok(change) = tokio::time::timeout_at(deadline, watch.next()).await else {
            panic!(
                "not equal to load within 30 s:\nwatch: {:#?}\nload: {expected:#?}",
                sorted(watch.objects())
            );
        };
        change.unwrap().expect("still watching");
    }
}

fn seed(cluster: &TestCluster) {
    cluster.kubectl_ok(
        &[
            "apply",
            "-f",
            data("multus-daemonset.yml").to_str().unwrap(),
        ],
        None,
    );
    cluster.kubectl_ok(&["create", "namespace", "apps"], None);
    for (ns, name, class) in [
        ("apps", "web", None),
        ("apps", "agent", Some("system-node-critical")),
        ("default", "bare", None),
    ] {
        cluster.kubectl_ok(&["apply", "-f", "-"], Some(&pod_yaml(ns, name, class)));
    }
    cluster.kubectl_ok(
        &["create", "priorityclass", "shop-critical", "--value=100000"],
        None,
    );
    cluster.kubectl_ok(
        &["create", "quota", "q", "-n", "apps", "--hard=pods=10"],
        None,
    );
}

#[test]
fn cluster_watch_holds_what_load_reads_and_follows_changes() {
    pg_testenv::require_cluster!();
    let cluster = start(Options::default());
    seed(&cluster);
    let opts = opts_for(cluster.kubeconfig_path());
    runtime().block_on(async {
        let mut watch = Watch::start(&opts, None).await.unwrap();
        let changes = synced(&mut watch).await;
        assert!(
            !changes
                .iter()
                .any(|c| matches!(c, Change::Skipped(_) | Change::Retrying { .. })),
            "{changes:?}"
        );
        assert!(watch.kinds().iter().all(|k| k.state == WatchState::Synced));
        let loaded = load(&opts);
        assert_eq!(sorted(watch.objects()), sorted(&loaded.objects));
        let pods = watch.kinds().iter().find(|k| k.kind == "Pod").unwrap();
        assert_eq!(pods.objects as u64, loaded.stats.pods);

        // Deletes, creations and updates (the fix of Multus) all arrive.
        cluster.kubectl_ok(&["delete", "pod", "web", "-n", "apps"], None);
        cluster.kubectl_ok(&["apply", "-f", "-"], Some(&pod_yaml("apps", "new", None)));
        cluster.set_template_class(
            "daemonset/kube-multus-ds",
            "kube-system",
            "system-node-critical",
        );
        cluster.kubectl_ok(&["delete", "priorityclass", "shop-critical"], None);
        until_equal_to_load(&mut watch, &opts).await;
        let names: Vec<String> = watch
            .objects()
            .iter()
            .filter_map(|o| match o {
                Object::Workload(w) => Some(w.name.clone()),
                _ => None,
            })
            .collect();
        assert!(names.contains(&"new".to_string()) && !names.contains(&"web".to_string()));

        // One namespace: workloads and quotas there, PriorityClasses cluster-wide, as `load`.
        let apps = ClusterOptions {
            namespace: Some("apps".to_string()),
            ..opts.clone()
        };
        let mut watch = Watch::start(&apps, None).await.unwrap();
        synced(&mut watch).await;
        assert_eq!(sorted(watch.objects()), sorted(&load(&apps).objects));
    });
}

#[test]
fn cluster_watch_skips_kinds_the_server_does_not_serve() {
    pg_testenv::require_cluster!();
    let cluster = start(Options {
        extra_apiserver_args: vec!["--runtime-config=batch/v1=false".to_string()],
        ..Options::default()
    });
    seed(&cluster);
    let opts = opts_for(cluster.kubeconfig_path());
    let loaded = load(&opts);
    runtime().block_on(async {
        let mut watch = Watch::start(&opts, None).await.unwrap();
        let skipped: Vec<_> = synced(&mut watch)
            .await
            .into_iter()
            .filter_map(|c| match c {
                Change::Skipped(problem) => Some(problem),
                _ => None,
            })
            .collect();
        let mut expected = loaded.problems.clone();
        assert_eq!(expected.len(), 2, "{expected:?}");
        let mut skipped_sorted = skipped;
        skipped_sorted.sort_by(|a, b| a.source.cmp(&b.source));
        expected.sort_by(|a, b| a.source.cmp(&b.source));
        assert_eq!(skipped_sorted, expected, "the same notes as load");
        let not_served: Vec<&str> = watch
            .kinds()
            .iter()
            .filter(|k| k.state == WatchState::NotServed)
            .map(|k| k.resource)
            .collect();
        assert_eq!(not_served, ["cronjobs.batch", "jobs.batch"]);
        assert_eq!(sorted(watch.objects()), sorted(&loaded.objects));
    });
}
