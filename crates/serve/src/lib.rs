//! `priorityguard serve --metrics`: keeps an audit of a live cluster current and serves it over
//! HTTP as Prometheus metrics and as a dashboard page.
//!
//! [`run`] watches every kind `audit --cluster` lists ([`pg_cluster::Watch`]), reruns
//! [`pg_checks::audit`] with the CLI's catalog and config once the initial lists are complete
//! and then after each burst of changes, and serves the findings on `/metrics` (see
//! `docs/serve.md` for every series) and as `audit -o html`'s page on `/` (which reloads itself
//! when `/generation` moves on), with `/healthz` and `/readyz` for probes.
//!
//! Bursts are debounced: an evaluation runs once no change has arrived for [`QUIET`], or
//! [`MAX_DELAY`] after the first change it covers, whichever comes first. A rollout of 500 pods
//! thus costs a handful of evaluations, and a cluster that never stops changing is still
//! evaluated every few seconds.

mod dashboard;
mod http;
mod metrics;

use dashboard::Dashboard;
use http::Shared;
use pg_catalog::Catalog;
use pg_checks::Config;
use pg_cluster::{Change, ClusterError, ClusterOptions, Target, Watch};
use pg_model::InputProblem;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use thiserror::Error;
use tokio::time::Instant;

/// How long the objects must stay unchanged before an evaluation runs.
pub const QUIET: Duration = Duration::from_secs(1);
/// The longest a change waits for its evaluation while changes keep coming.
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// What to watch, how to audit it, where to listen.
pub struct Options {
    pub cluster: ClusterOptions,
    pub listen: SocketAddr,
    /// The catalog and config `audit` would use (built-in catalog, `--policy`, `--all`).
    pub catalog: Catalog,
    pub config: Config,
}

/// Why [`run`] stopped before a signal asked it to.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The kubeconfig, the connection or the credentials failed, or a kind was forbidden,
    /// before every kind was listed: the same one-line error `audit --cluster` gives.
    /// (Boxed: it is large, and `run` returns it once.)
    #[error(transparent)]
    Cluster(Box<ClusterError>),
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
}

impl From<ClusterError> for ServeError {
    fn from(e: ClusterError) -> Self {
        ServeError::Cluster(Box::new(e))
    }
}

/// What [`run`] tells its caller along the way, one line each (the CLI prints them on stderr).
#[derive(Debug)]
pub enum Notice<'a> {
    /// Where the dashboard is, once the server is bound (with the real port when 0 was asked
    /// for); [`Notice::Listening`] follows.
    Dashboard(SocketAddr),
    /// The server is bound: where the metrics are.
    Listening(SocketAddr),
    /// Every kind is listed and the first evaluation is published: `/readyz` says ok.
    Ready {
        target: &'a Target,
        objects: usize,
        findings: usize,
        took: Duration,
    },
    /// A kind the server does not serve is skipped.
    Skipped(&'a InputProblem),
    /// A request failed after the start; it is retried with backoff.
    Retrying {
        kind: &'static str,
        error: &'a ClusterError,
    },
    /// A watch could not resume (the server answered 410 Gone) and lists its kind again.
    Relisting { kind: &'static str },
    /// SIGTERM or Ctrl-C: shutting down.
    Stopping,
}

impl fmt::Display for Notice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Listening(addr) => write!(f, "serving metrics on http://{addr}/metrics"),
            Notice::Dashboard(addr) => write!(f, "dashboard on http://{addr}/"),
            Notice::Ready {
                target,
                objects,
                findings,
                took,
            } => write!(
                f,
                "ready: watching {objects} objects on {target}; {findings} finding{} (evaluated in {} ms)",
                if *findings == 1 { "" } else { "s" },
                took.as_millis()
            ),
            Notice::Skipped(p) => write!(f, "note: {}: {}", p.source, p.message),
            Notice::Retrying { kind, error } => {
                write!(f, "warning: watching {kind} objects: {error}; retrying")
            }
            Notice::Relisting { kind } => write!(
                f,
                "note: the watch of {kind} objects could not resume (410 Gone); listing them again"
            ),
            Notice::Stopping => f.write_str("stopping"),
        }
    }
}

/// Runs until SIGTERM or Ctrl-C (then `Ok`), or until the watches fail to start (then the
/// error, as `audit --cluster` would give it). Kubeconfig problems are found before anything
/// listens; `notice` hears of everything else worth a line on stderr.
pub fn run(opts: Options, notice: &(dyn Fn(&Notice<'_>) + Sync)) -> Result<(), ServeError> {
    // Two workers for the HTTP server and the watches. The evaluation loop runs on this
    // thread (`block_on`), so an evaluation never holds up a scrape or a watch.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let result = runtime.block_on(serve(opts, notice));
    // The watches' tasks are aborted; nothing is left to wait for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn serve(opts: Options, notice: &(dyn Fn(&Notice<'_>) + Sync)) -> Result<(), ServeError> {
    let keep_labels = pg_checks::labels_read(&opts.catalog);
    let watch = Watch::start(&opts.cluster, Some(&keep_labels)).await?;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: opts.listen,
        source,
    })?;
    notice(&Notice::Dashboard(addr));
    notice(&Notice::Listening(addr));

    let target = watch.target();
    let label = target
        .context
        .clone()
        .unwrap_or_else(|| target.server.clone());
    let dashboard = Dashboard::new(opts.cluster.clone(), opts.catalog.clone(), label);
    let shared = Arc::new(Shared::new(dashboard));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, http::router(Arc::clone(&shared))).with_graceful_shutdown(
        async move {
            let _ = stop_rx.await;
        },
    );
    let server = tokio::spawn(async move { server.await });

    let evaluator = Evaluator {
        catalog: &opts.catalog,
        config: &opts.config,
        shared: &shared,
    };
    let outcome = tokio::select! {
        r = evaluator.follow(watch, notice) => r,
        () = signalled() => {
            notice(&Notice::Stopping);
            Ok(())
        }
    };
    // Let scrapes in flight finish, but do not wait on a client that keeps its connection.
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    outcome
}

/// SIGTERM (how Kubernetes stops a pod) or SIGINT (Ctrl-C).
async fn signalled() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        // Without a SIGTERM handler the default action still ends the process.
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

struct Evaluator<'a> {
    catalog: &'a Catalog,
    config: &'a Config,
    shared: &'a Shared,
}

impl Evaluator<'_> {
    /// Applies the watches' changes and evaluates as the module docs describe. Returns only
    /// on an error of the start (or never).
    async fn follow(
        &self,
        mut watch: Watch,
        notice: &(dyn Fn(&Notice<'_>) + Sync),
    ) -> Result<(), ServeError> {
        // (when the objects have been quiet long enough, the latest the evaluation may run)
        let mut due: Option<(Instant, Instant)> = None;
        loop {
            let deadline = due.map(|(quiet, latest)| quiet.min(latest));
            let change = tokio::select! {
                // `Watch::next` is cancel-safe: a change is applied only once received.
                change = watch.next() => change?,
                () = sleep_until(deadline) => {
                    self.evaluate(&watch);
                    due = None;
                    continue;
                }
            };
            let Some(change) = change else {
                // Nothing is left to watch (no kind is served): keep serving what we have.
                if due.take().is_some() {
                    self.evaluate(&watch);
                }
                std::future::pending::<()>().await;
                continue;
            };
            match &change {
                Change::Skipped(problem) => notice(&Notice::Skipped(problem)),
                Change::Retrying { kind, error } => notice(&Notice::Retrying { kind, error }),
                Change::Relisting { kind } => notice(&Notice::Relisting { kind }),
                Change::Objects | Change::Listed { .. } => {}
            }
            self.shared.metrics.set_watches(watch.kinds());
            if !watch.synced() {
                continue;
            }
            if !self.shared.is_ready() {
                let (findings, took) = self.evaluate(&watch);
                self.shared.set_ready();
                notice(&Notice::Ready {
                    target: watch.target(),
                    objects: watch.objects().len(),
                    findings,
                    took,
                });
                continue;
            }
            if matches!(change, Change::Objects | Change::Listed { .. }) {
                let now = Instant::now();
                let latest = due.map_or(now + MAX_DELAY, |(_, latest)| latest);
                due = Some((now + QUIET, latest));
            }
        }
    }

    /// Audits the watched objects and publishes the findings; returns their number and the
    /// time taken.
    fn evaluate(&self, watch: &Watch) -> (usize, Duration) {
        let started = std::time::Instant::now();
        let audit = pg_checks::audit(watch.objects(), self.catalog, self.config);
        let took = started.elapsed();
        self.shared.metrics.set_watches(watch.kinds());
        self.shared
            .metrics
            .record_evaluation(&audit.findings, SystemTime::now(), took);
        let findings = audit.findings.len();
        self.shared.dashboard.publish(audit, watch.objects());
        (findings, took)
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
