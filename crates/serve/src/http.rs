//! The endpoints: `/metrics`, the dashboard `/` and its `/generation`, `/healthz` (the process
//! answers) and `/readyz` (the watches have their initial lists and the first evaluation is
//! published).

use crate::dashboard::Dashboard;
use crate::metrics::{Format, Metrics};
use axum::Router;
use axum::extract::State;
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the handlers read and the evaluation loop writes.
pub struct Shared {
    pub metrics: Metrics,
    pub dashboard: Arc<Dashboard>,
    /// Every kind has been listed once and the findings of that state are published.
    pub ready: AtomicBool,
}

impl Shared {
    pub fn new(dashboard: Dashboard) -> Shared {
        Shared {
            metrics: Metrics::default(),
            dashboard: Arc::new(dashboard),
            ready: AtomicBool::new(false),
        }
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/generation", get(generation))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(shared)
}

const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let body = shared.metrics.encode(format);
    ([(CONTENT_TYPE, format.content_type())], body)
}

/// The dashboard: read-only, never cached (it follows the cluster), never framed.
async fn page(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let Some(page) = shared.dashboard.page().await else {
        let body = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
            <meta http-equiv=\"refresh\" content=\"2\"><title>priorityguard</title></head>\
            <body><p>Listing the cluster's objects for the first time; this page reloads.</p>\
            </body></html>\n";
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, HTML), (CACHE_CONTROL, "no-store")],
            body.to_string(),
        )
            .into_response();
    };
    (
        [
            (CONTENT_TYPE, HTML),
            (CACHE_CONTROL, "no-store"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (X_FRAME_OPTIONS, "DENY"),
            (REFERRER_POLICY, "no-referrer"),
            // The page's own meta element holds the rest of the policy; `frame-ancestors`
            // only works as a header.
            (CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
        ],
        page.as_str().to_string(),
    )
        .into_response()
}

/// The evaluation the dashboard shows; the page's script reloads when it changes.
async fn generation(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let body = shared
        .dashboard
        .generation()
        .map_or_else(String::new, |g| format!("{g}\n"));
    ([(CONTENT_TYPE, TEXT), (CACHE_CONTROL, "no-store")], body)
}

async fn healthz() -> impl IntoResponse {
    ([(CONTENT_TYPE, TEXT)], "ok\n")
}

/// 503 until ready, so a Service sends no scrape to a replica whose findings are incomplete.
async fn readyz(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    if shared.is_ready() {
        (StatusCode::OK, [(CONTENT_TYPE, TEXT)], "ok\n")
    } else {
        let body = "not ready: listing the cluster's objects for the first time\n";
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, TEXT)],
            body,
        )
    }
}

async fn not_found() -> impl IntoResponse {
    let body =
        "not found; priorityguard serves / (the dashboard), /metrics, /healthz and /readyz\n";
    (StatusCode::NOT_FOUND, [(CONTENT_TYPE, TEXT)], body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(
        shared: &Arc<Shared>,
        path: &str,
        accept: Option<&str>,
    ) -> (StatusCode, String, String) {
        let mut req = Request::get(path);
        if let Some(a) = accept {
            req = req.header(ACCEPT, a);
        }
        let resp = router(Arc::clone(shared))
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let content_type = resp.headers()[CONTENT_TYPE].to_str().unwrap().to_string();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    fn shared() -> Arc<Shared> {
        let cluster = pg_cluster::ClusterOptions {
            kubeconfig: Some("/nonexistent/kubeconfig".into()),
            ..Default::default()
        };
        let dashboard = Dashboard::new(cluster, pg_catalog::Catalog::builtin(), "prod".into());
        Arc::new(Shared::new(dashboard))
    }

    #[tokio::test]
    async fn endpoints() {
        let shared = shared();
        let (status, _, body) = get(&shared, "/healthz", None).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
        let (status, _, _) = get(&shared, "/readyz", None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        shared.set_ready();
        let (status, _, _) = get(&shared, "/readyz", None).await;
        assert_eq!(status, StatusCode::OK);

        let (status, content_type, body) = get(&shared, "/metrics", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
        assert!(
            body.contains("# TYPE priorityguard_findings gauge\n"),
            "{body}"
        );
        assert!(!body.contains("# EOF"), "{body}");
        let (_, content_type, body) = get(
            &shared,
            "/metrics",
            Some("application/openmetrics-text;version=1.0.0"),
        )
        .await;
        assert!(content_type.starts_with("application/openmetrics-text"));
        assert!(body.ends_with("# EOF\n"), "{body}");

        let (status, _, body) = get(&shared, "/nope", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("/metrics"), "{body}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn dashboard_follows_the_evaluations() {
        let shared = shared();
        let (status, content_type, body) = get(&shared, "/", None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(content_type, HTML);
        assert!(body.contains("http-equiv=\"refresh\""), "{body}");
        let (_, _, body) = get(&shared, "/generation", None).await;
        assert_eq!(body, "");

        let catalog = pg_catalog::Catalog::builtin();
        let config = pg_checks::Config::new(false, &pg_catalog::Policy::default());
        for generation in 1..=2 {
            shared
                .dashboard
                .publish(pg_checks::audit(&[], &catalog, &config), &[]);
            let (_, _, body) = get(&shared, "/generation", None).await;
            assert_eq!(body, format!("{generation}\n"));
            let (status, content_type, body) = get(&shared, "/", None).await;
            assert_eq!((status, content_type.as_str()), (StatusCode::OK, HTML));
            assert!(
                body.contains(&format!("<body data-generation=\"{generation}\">")),
                "{body}"
            );
            assert!(body.contains("<span id=\"cluster\">prod</span>"), "{body}");
            assert!(body.contains("connect-src 'self'"), "{body}");
            // The nodes could not be read: the page says why instead of a picture.
            assert!(
                body.contains("No picture: cannot read the nodes and pods to simulate:"),
                "{body}"
            );
        }
    }
}
