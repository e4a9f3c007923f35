//! Many clusters in one run (`audit --cluster --context a,b,c`, `--all-contexts`).
//!
//! A fixed pool of worker threads takes the contexts in order, each reading one cluster at a
//! time on its own single-threaded runtime (a cluster's kinds are still listed concurrently,
//! as [`crate::load`] does). Each cluster read is handed to the caller on the calling thread as
//! soon as it is complete, through a channel that holds at most one finished cluster per
//! worker: the caller audits it and drops its objects, so memory stays at a few clusters'
//! objects however many contexts there are. A cluster that fails is reported as such and the
//! others go on.

use crate::ClusterOptions;
use crate::connect::{self, Env};
use crate::error::ClusterError;
use crate::list::{load_from, runtime};
use crate::progress::Progress;
use pg_sources::Loaded;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// How many clusters `--jobs` reads at once unless told otherwise: listing is mostly waiting
/// on the network, and each cluster read keeps one page per kind in memory, so a handful at a
/// time keeps a laptop's memory and the API servers' load small while hiding latency.
pub const DEFAULT_JOBS: usize = 8;

/// One cluster of a fleet, read (or not).
#[derive(Debug)]
pub struct Member {
    /// The kubeconfig context.
    pub context: String,
    /// The API server URL; `None` when the context could not be resolved.
    pub server: Option<String>,
    pub result: Result<Loaded, ClusterError>,
}

/// Reads the cluster of every context in `contexts` (with `opts`' kubeconfig and namespace),
/// at most `jobs` at a time, and calls `each` with the context's index and what was read, on
/// the calling thread, in the order the clusters finish. `opts.progress` draws one bar for the
/// whole fleet (clusters done out of all) instead of one per cluster.
pub fn load_fleet(
    opts: &ClusterOptions,
    contexts: &[String],
    jobs: usize,
    keep_labels: Option<&[String]>,
    mut each: impl FnMut(usize, Member),
) {
    let workers = jobs.max(1).min(contexts.len());
    let keep_labels: Option<Arc<[String]>> = keep_labels.map(Arc::from);
    let progress = Progress::clusters(opts.progress, contexts.len() as u64);
    let next = AtomicUsize::new(0);
    let (done, finished) = mpsc::sync_channel::<(usize, Member)>(workers);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done = done.clone();
            let (next, keep_labels) = (&next, keep_labels.clone());
            scope.spawn(move || {
                let rt = runtime();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(context) = contexts.get(i) else {
                        break;
                    };
                    let one = ClusterOptions {
                        context: Some(context.clone()),
                        progress: false,
                        ..opts.clone()
                    };
                    let member = match &rt {
                        Ok(rt) => read_one(rt, &one, context, keep_labels.clone()),
                        Err(e) => Member {
                            context: context.clone(),
                            server: None,
                            result: Err(e.clone()),
                        },
                    };
                    if done.send((i, member)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done);
        for (i, member) in finished {
            progress.cluster_done(&member.context);
            // The caller prints the cluster's problems on stderr: not through the bar.
            progress.suspend(|| each(i, member));
        }
    });
    progress.finish();
}

fn read_one(
    rt: &tokio::runtime::Runtime,
    opts: &ClusterOptions,
    context: &str,
    keep_labels: Option<Arc<[String]>>,
) -> Member {
    rt.block_on(async {
        match connect::resolve(opts, &Env::current()).await {
            Ok(resolved) => Member {
                context: context.to_string(),
                server: Some(resolved.target.server.clone()),
                result: load_from(&resolved, opts, keep_labels).await,
            },
            Err(e) => Member {
                context: context.to_string(),
                server: None,
                result: Err(e),
            },
        }
    })
}
