//! The dashboard at `/`: `audit -o html`'s page for the last evaluation, with the eviction and
//! OOM picture of the cluster's nodes, and a script that reloads it when another evaluation is
//! published (`/generation`).
//!
//! The picture needs every node and pod with their resources, which the watches do not keep:
//! it is read (one paged list of nodes, pods, PriorityClasses and PodDisruptionBudgets, as
//! `simulate --cluster` reads them) when someone asks for the page of an evaluation not yet
//! drawn, never by the evaluation loop. An idle dashboard costs nothing; an open one costs
//! one such read per evaluation.

use pg_catalog::Catalog;
use pg_cluster::ClusterOptions;
use pg_model::{Object, Report, Stats, WorkloadKind};
use pg_report::RenderOptions;
use pg_report::html::{Live, Page, Pictures};
use pg_sources::snapshot::Builder;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// One published evaluation.
struct Evaluation {
    generation: u64,
    at: SystemTime,
    report: Report,
}

/// What `/` serves, and what it needs to draw the picture.
pub struct Dashboard {
    cluster: ClusterOptions,
    catalog: Catalog,
    /// The page's title: the kubeconfig context, else the server.
    label: String,
    latest: Mutex<Option<Arc<Evaluation>>>,
    /// The page of one generation, drawn once; a tokio mutex, so concurrent requests for a
    /// new generation wait for one drawing instead of reading the cluster each.
    page: tokio::sync::Mutex<Option<(u64, Arc<String>)>>,
}

impl Dashboard {
    pub fn new(cluster: ClusterOptions, catalog: Catalog, label: String) -> Dashboard {
        let mut cluster = cluster;
        // A node's eviction order depends on every pod on it, whatever its namespace.
        cluster.namespace = None;
        cluster.progress = false;
        Dashboard {
            cluster,
            catalog,
            label,
            latest: Mutex::new(None),
            page: tokio::sync::Mutex::new(None),
        }
    }

    /// Publishes an evaluation of `objects`.
    pub fn publish(&self, audit: pg_checks::Audit, objects: &[Object]) {
        let mut stats = Stats::default();
        for o in objects {
            match o {
                Object::Workload(w) if w.kind == WorkloadKind::Pod => stats.pods += 1,
                Object::Workload(_) => stats.workloads += 1,
                Object::PriorityClass(_) => stats.priority_classes += 1,
                _ => {}
            }
        }
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        let generation = latest.as_ref().map_or(1, |e| e.generation + 1);
        *latest = Some(Arc::new(Evaluation {
            generation,
            at: SystemTime::now(),
            report: Report {
                findings: audit.findings,
                components: audit.components,
                problems: Vec::new(),
                stats,
                clusters: Vec::new(),
            },
        }));
    }

    /// The generation the page shows; `None` before the first evaluation.
    pub fn generation(&self) -> Option<u64> {
        self.latest().map(|e| e.generation)
    }

    fn latest(&self) -> Option<Arc<Evaluation>> {
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The page of the latest evaluation (drawn now if it has not been); `None` before the
    /// first evaluation.
    pub async fn page(self: &Arc<Self>) -> Option<Arc<String>> {
        let evaluation = self.latest()?;
        let mut cached = self.page.lock().await;
        if let Some((generation, page)) = cached.as_ref()
            && *generation == evaluation.generation
        {
            return Some(Arc::clone(page));
        }
        let this = Arc::clone(self);
        let drawn = Arc::clone(&evaluation);
        // Reading the cluster blocks (pg-cluster runs its own runtime): off the workers.
        let page = tokio::task::spawn_blocking(move || this.draw(&drawn))
            .await
            .unwrap_or_else(|e| format!("cannot draw the page: {e}"));
        let page = Arc::new(page);
        *cached = Some((evaluation.generation, Arc::clone(&page)));
        Some(page)
    }

    fn draw(&self, evaluation: &Evaluation) -> String {
        let mut builder = Builder::default();
        let pictures = match pg_cluster::list_snapshot(&self.cluster, |kind, page| {
            builder.add_list_page(kind, page)
        }) {
            Ok(_) => pg_report::html::pictures(&builder.finish(), &self.catalog),
            Err(e) => {
                Pictures::Unavailable(format!("cannot read the nodes and pods to simulate: {e}"))
            }
        };
        let page = Page {
            cluster: Some(self.label.clone()),
            live: Some(Live {
                generation: evaluation.generation,
                evaluated: evaluation.at,
            }),
            pictures,
        };
        let opts = RenderOptions {
            color: false,
            tool_version: env!("CARGO_PKG_VERSION"),
            show_components: true,
        };
        let mut out = Vec::new();
        pg_report::html::render_page(&evaluation.report, &page, &opts, &mut out)
            .expect("writing to a Vec");
        String::from_utf8(out).expect("the page is UTF-8")
    }
}
