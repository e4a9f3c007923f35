//! The three endpoints: `/metrics`, `/healthz` (the process answers) and `/readyz` (the
//! watches have their initial lists and the first evaluation is published).

use crate::metrics::{Format, Metrics};
use axum::Router;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the handlers read and the evaluation loop writes.
#[derive(Debug, Default)]
pub struct Shared {
    pub metrics: Metrics,
    /// Every kind has been listed once and the findings of that state are published.
    pub ready: AtomicBool,
}

impl Shared {
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(shared)
}

const TEXT: &str = "text/plain; charset=utf-8";

async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let body = shared.metrics.encode(format);
    ([(CONTENT_TYPE, format.content_type())], body)
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
    let body = "not found; priorityguard serves /metrics, /healthz and /readyz\n";
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

    #[tokio::test]
    async fn endpoints() {
        let shared = Arc::new(Shared::default());
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

        let (status, _, body) = get(&shared, "/", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("/metrics"), "{body}");
    }
}
