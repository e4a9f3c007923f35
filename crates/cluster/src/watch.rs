//! `serve`: the objects `audit --cluster` reads, kept current by one watch per kind.
//!
//! kube-rs' watcher speaks the protocol: the initial list in pages of 500 (as [`crate::load`]
//! reads), resuming from the last resourceVersion, bookmarks, a fresh list when the server
//! answers 410 Gone, and (through its default backoff) retries spaced from 0.8 s up to 30 s.
//! This module maps every object through the same [`ApiKind::object`] as `load`, keeps them in
//! a [`Store`], and decides which failures end the watch: until every kind has been listed
//! once, whatever would stop `audit --cluster` stops it, with the same one-line error;
//! afterwards errors are reported and retried, and the last known objects stay.

use crate::ClusterOptions;
use crate::connect::{self, Env, Target};
use crate::error::{ClusterError, Failure, Request, classify, request_error};
use crate::kinds::{ApiKind, LISTED};
use crate::list::not_served;
use futures::StreamExt;
use kube::Api;
use kube::core::{ApiResource, DynamicResourceScope, ObjectMeta, Resource};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use pg_model::{InputProblem, Object};
use pg_sources::raw::{RawObject, Scalar};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How one kind's watch stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchState {
    /// Its first list is being read.
    Listing,
    /// Its objects are current (changes arrive as they happen).
    Synced,
    /// The watch could not resume (410 Gone) and lists again; the objects of the previous list
    /// stay until the new one is complete.
    Relisting,
    /// The server does not serve the kind (404): skipped, as `audit --cluster` skips it.
    NotServed,
}

/// A kind as [`Watch::kinds`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindStatus {
    /// `Pod`, `DaemonSet`, ...
    pub kind: &'static str,
    /// `pods`, `daemonsets.apps`, ...: how RBAC names it.
    pub resource: &'static str,
    pub state: WatchState,
    /// Requests that failed so far; each was retried with backoff.
    pub errors: u64,
    /// Objects of this kind in the store.
    pub objects: usize,
}

/// What [`Watch::next`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Objects were added, changed or deleted.
    Objects,
    /// A kind's list (the first, or one after a 410) is complete and replaced its objects.
    Listed { kind: &'static str },
    /// A kind's watch could not resume and lists again.
    Relisting { kind: &'static str },
    /// The server does not serve a kind; it is skipped.
    Skipped(InputProblem),
    /// A request failed; the watcher retries it with backoff.
    Retrying {
        kind: &'static str,
        error: ClusterError,
    },
}

/// When one kind fails in a way that stops the start, the other kinds' first answers (often
/// 403s too) are awaited this long, so the error names every denied resource at once.
const STARTUP_GRACE: Duration = Duration::from_secs(2);

/// Watches of every kind `load` lists, and the objects they hold.
pub struct Watch {
    target: Target,
    rx: mpsc::Receiver<(usize, Message)>,
    /// Dropping the set aborts the watches.
    _tasks: JoinSet<()>,
    store: Store,
    kinds: Vec<KindStatus>,
    /// Kinds whose start failed for good (their task has ended).
    stopped: Vec<bool>,
    /// Why kinds failed to start, by kind index.
    startup_errors: Vec<(usize, ClusterError)>,
    give_up_at: Option<Instant>,
}

impl Watch {
    /// Finds the cluster as `load` does and starts one watch per kind (in `opts.namespace`,
    /// or all namespaces; PriorityClasses always cluster-wide). Labels not in `keep_labels`
    /// are dropped, as in [`crate::load_keeping_labels`]. Kubeconfig problems are returned
    /// here; the server is first contacted by the watches, and what it answers comes out of
    /// [`Watch::next`].
    ///
    /// The watches are spawned on the runtime this is awaited in.
    pub async fn start(
        opts: &ClusterOptions,
        keep_labels: Option<&[String]>,
    ) -> Result<Watch, ClusterError> {
        let resolved = connect::resolve(opts, &Env::current()).await?;
        let client = connect::watch_client(&resolved)?;
        let keep_labels: Option<Arc<[String]>> = keep_labels.map(Arc::from);
        // Enough to absorb a burst (a page of a list is 500 objects) without stalling the
        // watches, small enough that a slow consumer slows them down instead of piling up.
        let (tx, rx) = mpsc::channel(1024);
        let mut tasks = JoinSet::new();
        for (i, kind) in LISTED.iter().enumerate() {
            let ar = kind.api_resource();
            let namespace = opts.namespace.as_deref().filter(|_| !kind.cluster_scoped);
            let api: Api<Watched> = match namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
                None => Api::all_with(client.clone(), &ar),
            };
            let task = KindTask {
                index: i,
                kind: *kind,
                namespace: namespace.map(str::to_string),
                target: resolved.target.clone(),
                keep_labels: keep_labels.clone(),
                tx: tx.clone(),
            };
            tasks.spawn(task.run(api));
        }
        Ok(Watch {
            target: resolved.target,
            rx,
            _tasks: tasks,
            store: Store::new(LISTED.len()),
            kinds: LISTED
                .iter()
                .map(|k| KindStatus {
                    kind: k.kind,
                    resource: k.resource,
                    state: WatchState::Listing,
                    errors: 0,
                    objects: 0,
                })
                .collect(),
            stopped: vec![false; LISTED.len()],
            startup_errors: Vec::new(),
            give_up_at: None,
        })
    }

    /// The API server being watched.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Every object of every kind, in no particular order: what `audit` runs on.
    pub fn objects(&self) -> &[Object] {
        &self.store.objects
    }

    /// Each kind's state, errors and object count, in the order `load` lists them.
    pub fn kinds(&self) -> &[KindStatus] {
        &self.kinds
    }

    /// True once every kind has been listed (or skipped): the store then holds the whole
    /// cluster, as `load` would have returned it.
    pub fn synced(&self) -> bool {
        self.kinds.iter().all(|k| k.state != WatchState::Listing)
    }

    /// Waits for the next change and applies it. Before [`Watch::synced`], an error that would
    /// stop `audit --cluster` (connection, credentials, 403, ...) ends the watch: it is
    /// returned, with every 403 of the start folded into one message. Afterwards failures come
    /// back as [`Change::Retrying`]. `Ok(None)`: nothing is left to watch.
    pub async fn next(&mut self) -> Result<Option<Change>, ClusterError> {
        loop {
            let received = match self.give_up_at {
                Some(at) => tokio::select! {
                    m = self.rx.recv() => m,
                    () = tokio::time::sleep_until(at) => None,
                },
                None => self.rx.recv().await,
            };
            let Some((i, message)) = received else {
                return match self.startup_error() {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            };
            let change = self.apply(i, message);
            if !self.startup_errors.is_empty() {
                let settled = (0..self.kinds.len())
                    .all(|k| self.stopped[k] || self.kinds[k].state != WatchState::Listing);
                if settled && let Some(e) = self.startup_error() {
                    return Err(e);
                }
                continue;
            }
            if let Some(change) = change {
                return Ok(Some(change));
            }
        }
    }

    /// The start's errors as one, in `load`'s words and order, so `serve` and `audit
    /// --cluster` fail with the same line.
    fn startup_error(&mut self) -> Option<ClusterError> {
        let mut errors = std::mem::take(&mut self.startup_errors);
        errors.sort_by_key(|(i, _)| *i);
        ClusterError::most_telling(errors.into_iter().map(|(_, e)| e).collect())
    }

    fn apply(&mut self, i: usize, message: Message) -> Option<Change> {
        let status = &mut self.kinds[i];
        let change = match message {
            Message::Init => {
                self.store.begin_list(i);
                if status.state == WatchState::Listing {
                    return None;
                }
                status.state = WatchState::Relisting;
                Change::Relisting { kind: status.kind }
            }
            Message::Listed(key, object) => {
                self.store.listed(i, key, object);
                return None;
            }
            Message::InitDone => {
                self.store.finish_list(i);
                status.state = WatchState::Synced;
                Change::Listed { kind: status.kind }
            }
            Message::Applied(key, object) => {
                self.store.upsert(i, key, object);
                Change::Objects
            }
            Message::Deleted(key) => {
                self.store.remove(&(i, key))?;
                Change::Objects
            }
            Message::NotServed => {
                self.stopped[i] = true;
                status.state = WatchState::NotServed;
                Change::Skipped(not_served(&LISTED[i], &self.target))
            }
            Message::Failed { error, stopped } => {
                status.errors += 1;
                if stopped {
                    self.stopped[i] = true;
                    self.startup_errors.push((i, error));
                    self.give_up_at
                        .get_or_insert_with(|| Instant::now() + STARTUP_GRACE);
                    return None;
                }
                Change::Retrying {
                    kind: status.kind,
                    error,
                }
            }
        };
        status.objects = self.store.counts[i];
        Some(change)
    }
}

/// Namespace and name of an object within its kind.
type Name = (Option<String>, String);

/// What a kind's task tells the [`Watch`].
#[derive(Debug)]
enum Message {
    /// A list starts (the first, or again after 410 Gone).
    Init,
    /// An object of the list in progress.
    Listed(Name, Object),
    /// The list is complete.
    InitDone,
    Applied(Name, Object),
    Deleted(Name),
    /// The kind is not served; its task has ended.
    NotServed,
    /// A request failed; `stopped`: the task has ended because the kind was never listed and
    /// `audit --cluster` would have stopped on this error too.
    Failed {
        error: ClusterError,
        stopped: bool,
    },
}

/// One kind's watch, as a task that turns watcher events into [`Message`]s.
struct KindTask {
    index: usize,
    kind: ApiKind,
    namespace: Option<String>,
    target: Target,
    keep_labels: Option<Arc<[String]>>,
    tx: mpsc::Sender<(usize, Message)>,
}

impl KindTask {
    async fn run(self, api: Api<Watched>) {
        // The defaults: lists in pages of 500, bookmarks, a 290 s server-side watch timeout.
        let mut events =
            std::pin::pin!(watcher::watcher(api, watcher::Config::default()).default_backoff());
        let mut listed = false;
        while let Some(event) = events.next().await {
            let keep = self.keep_labels.as_deref();
            let message = match event {
                Ok(Event::Init) => Message::Init,
                Ok(Event::InitApply(w)) => match w.into_entry(&self.kind, keep) {
                    Some((name, object)) => Message::Listed(name, object),
                    None => continue,
                },
                Ok(Event::InitDone) => {
                    listed = true;
                    Message::InitDone
                }
                Ok(Event::Apply(w)) => match w.into_entry(&self.kind, keep) {
                    Some((name, object)) => Message::Applied(name, object),
                    None => continue,
                },
                Ok(Event::Delete(w)) => Message::Deleted(w.name()),
                Err(e) => {
                    let (status, error) = self.describe(&e);
                    match status {
                        // The watcher lists again by itself; Init follows.
                        Some(410) => continue,
                        Some(404) if !listed => {
                            let _ = self.tx.send((self.index, Message::NotServed)).await;
                            return;
                        }
                        _ => {}
                    }
                    // Before the first list only 429 and 5xx are worth waiting out, as in
                    // `load`; the rest would stop `audit --cluster` and stops this too.
                    let stopped = !listed && !matches!(status, Some(429 | 500..=599));
                    let message = Message::Failed { error, stopped };
                    if self.tx.send((self.index, message)).await.is_err() || stopped {
                        return;
                    }
                    continue;
                }
            };
            if self.tx.send((self.index, message)).await.is_err() {
                return; // the Watch was dropped
            }
        }
    }

    /// The HTTP status behind a watcher error (`None` for connection problems), and the
    /// error in the words `audit --cluster` uses.
    fn describe(&self, err: &watcher::Error) -> (Option<u16>, ClusterError) {
        let (verb, failure) = match err {
            watcher::Error::InitialListFailed(e) => ("list", classify(e, &self.target)),
            watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
                ("watch", classify(e, &self.target))
            }
            watcher::Error::WatchError(status) => (
                "watch",
                classify(&kube::Error::Api(status.clone()), &self.target),
            ),
            watcher::Error::NoResourceVersion => {
                let error = ClusterError::Decode {
                    target: self.target.clone(),
                    resource: self.kind.resource.to_string(),
                    reason: "it has no resourceVersion to watch from".to_string(),
                };
                return (None, error);
            }
        };
        let req = Request {
            target: &self.target,
            verb,
            resource: self.kind.resource,
            namespace: self.namespace.as_deref(),
            cluster_scoped: self.kind.cluster_scoped,
        };
        match failure {
            Failure::Fatal(e) => (None, e),
            Failure::Retryable { status, message } | Failure::Api { status, message } => {
                (Some(status), request_error(&req, status, &message))
            }
        }
    }
}

/// The objects of every kind in one `Vec`, so `audit` runs on them where they are, with an
/// index to update and delete them in O(1).
struct Store {
    objects: Vec<Object>,
    /// `keys[i]` names `objects[i]`.
    keys: Vec<(usize, Name)>,
    index: HashMap<(usize, Name), usize>,
    /// Per kind: the objects of a list in progress, which replace the kind's objects when the
    /// list is complete.
    pending: Vec<Option<Vec<(Name, Object)>>>,
    counts: Vec<usize>,
}

impl Store {
    fn new(kinds: usize) -> Store {
        Store {
            objects: Vec::new(),
            keys: Vec::new(),
            index: HashMap::new(),
            pending: (0..kinds).map(|_| None).collect(),
            counts: vec![0; kinds],
        }
    }

    fn begin_list(&mut self, kind: usize) {
        self.pending[kind] = Some(Vec::new());
    }

    fn listed(&mut self, kind: usize, name: Name, object: Object) {
        self.pending[kind]
            .get_or_insert_with(Vec::new)
            .push((name, object));
    }

    /// Replaces the kind's objects by the listed ones: objects deleted while the watch was
    /// down disappear here.
    fn finish_list(&mut self, kind: usize) {
        let listed = self.pending[kind].take().unwrap_or_default();
        if self.counts[kind] > 0 {
            let (mut objects, mut keys) = (Vec::new(), Vec::new());
            for (key, object) in self.keys.drain(..).zip(self.objects.drain(..)) {
                if key.0 != kind {
                    keys.push(key);
                    objects.push(object);
                }
            }
            self.objects = objects;
            self.keys = keys;
            self.index = (self.keys.iter().cloned()).zip(0..).collect();
            self.counts[kind] = 0;
        }
        for (name, object) in listed {
            self.upsert(kind, name, object);
        }
    }

    fn upsert(&mut self, kind: usize, name: Name, object: Object) {
        let key = (kind, name);
        match self.index.get(&key) {
            Some(&i) => self.objects[i] = object,
            None => {
                self.index.insert(key.clone(), self.objects.len());
                self.keys.push(key);
                self.objects.push(object);
                self.counts[kind] += 1;
            }
        }
    }

    /// Removes an object; `None` if it was not there.
    fn remove(&mut self, key: &(usize, Name)) -> Option<Object> {
        let i = self.index.remove(key)?;
        self.keys.swap_remove(i);
        let object = self.objects.swap_remove(i);
        if let Some(moved) = self.keys.get(i) {
            self.index.insert(moved.clone(), i);
        }
        self.counts[key.0] -= 1;
        Some(object)
    }
}

/// An object as a watch delivers it: the fields the mapping reads ([`RawObject`], parsed
/// straight from the response as `load` parses list pages), and the metadata kube's watcher
/// needs (the resourceVersion it resumes from).
#[derive(Clone, Debug)]
struct Watched {
    metadata: ObjectMeta,
    raw: RawObject,
}

impl Watched {
    fn name(&self) -> Name {
        (
            self.metadata.namespace.clone(),
            self.metadata.name.clone().unwrap_or_default(),
        )
    }

    fn into_entry(self, kind: &ApiKind, keep_labels: Option<&[String]>) -> Option<(Name, Object)> {
        let name = self.name();
        kind.object(self.raw, keep_labels).map(|o| (name, o))
    }
}

impl<'de> Deserialize<'de> for Watched {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawObject::deserialize(d)?;
        let text = |s: &Option<Scalar>| s.as_ref().and_then(Scalar::as_text);
        let metadata = ObjectMeta {
            name: text(&raw.metadata.name),
            namespace: text(&raw.metadata.namespace),
            uid: text(&raw.metadata.uid),
            resource_version: text(&raw.metadata.resource_version),
            ..ObjectMeta::default()
        };
        Ok(Watched { metadata, raw })
    }
}

/// As kube's `DynamicObject`: the resource is named by an [`ApiResource`] at run time (one
/// per [`ApiKind`]), so one type serves every kind.
impl Resource for Watched {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        Cow::from(dt.kind.as_str())
    }

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        Cow::from(dt.group.as_str())
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        Cow::from(dt.version.as_str())
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        Cow::from(dt.api_version.as_str())
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        Cow::from(dt.plural.as_str())
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_model::WorkloadKind;

    fn pod(ns: &str, name: &str, class: Option<&str>) -> (Name, Object) {
        let class = class.map_or(String::new(), |c| format!(r#""priorityClassName":"{c}","#));
        let json = format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"{ns}","uid":"u-{name}","resourceVersion":"7"}},
                "spec":{{{class}"containers":[{{"name":"c","image":"img"}}]}}}}"#
        );
        let w: Watched = serde_json::from_str(&json).unwrap();
        assert_eq!(w.metadata.resource_version.as_deref(), Some("7"));
        w.into_entry(&crate::kinds::workload(WorkloadKind::Pod), None)
            .unwrap()
    }

    fn names(store: &Store) -> Vec<String> {
        let mut names: Vec<String> = store
            .objects
            .iter()
            .map(|o| match o {
                Object::Workload(w) => format!("{}/{}", w.namespace_or_default(), w.name),
                other => panic!("{other:?}"),
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_watched_object_maps_like_a_listed_one() {
        let (name, object) = pod("ns", "p", Some("system-node-critical"));
        assert_eq!(name, (Some("ns".to_string()), "p".to_string()));
        let Object::Workload(w) = object else {
            panic!("a pod is a workload")
        };
        assert_eq!(w.kind, WorkloadKind::Pod);
        assert!(w.from_api, "uid set: read back from an API server");
        assert!(w.location.is_none());
    }

    #[test]
    fn store_applies_updates_and_deletes() {
        let mut store = Store::new(LISTED.len());
        let pods = 9;
        for n in ["a", "b", "c"] {
            let (name, object) = pod("ns", n, None);
            store.upsert(pods, name, object);
        }
        let (name, object) = pod("ns", "b", Some("system-node-critical"));
        store.upsert(pods, name, object);
        assert_eq!(store.counts[pods], 3, "an update replaces");
        assert!(
            store
                .remove(&(pods, (Some("ns".into()), "a".into())))
                .is_some()
        );
        assert!(
            store
                .remove(&(pods, (Some("ns".into()), "a".into())))
                .is_none()
        );
        assert_eq!(names(&store), ["ns/b", "ns/c"]);
        // The index still finds the object that swap_remove moved.
        assert!(
            store
                .remove(&(pods, (Some("ns".into()), "c".into())))
                .is_some()
        );
        assert_eq!(names(&store), ["ns/b"]);
        assert_eq!(store.counts[pods], 1);
    }

    #[test]
    fn a_new_list_replaces_the_kind_and_keeps_the_others() {
        let mut store = Store::new(LISTED.len());
        let (other_kind, pods) = (2, 9);
        for (kind, n) in [(pods, "gone"), (pods, "kept"), (other_kind, "other")] {
            let (name, object) = pod("ns", n, None);
            store.upsert(kind, name, object);
        }
        store.begin_list(pods);
        for n in ["kept", "new"] {
            let (name, object) = pod("ns", n, None);
            store.listed(pods, name, object);
        }
        assert_eq!(
            store.objects.len(),
            3,
            "the old list stays until the new one is done"
        );
        store.finish_list(pods);
        assert_eq!(names(&store), ["ns/kept", "ns/new", "ns/other"]);
        assert_eq!((store.counts[pods], store.counts[other_kind]), (2, 1));
        assert!(
            store
                .remove(&(other_kind, (Some("ns".into()), "other".into())))
                .is_some()
        );
        assert!(
            store
                .remove(&(pods, (Some("ns".into()), "new".into())))
                .is_some()
        );
        assert_eq!(names(&store), ["ns/kept"]);
    }
}
