//! Retrying throttled (429) and failing (5xx) requests with exponential backoff.
//!
//! API Priority and Fairness answers 429 when a busy control plane sheds load, and an apiserver
//! behind a load balancer answers 5xx while it restarts; both usually pass within seconds, so a
//! few spaced attempts turn a flaky audit into a working one. Everything else (401, 403, 404,
//! 409, connection refused) is returned at once: retrying would only delay the message.

use crate::connect::Target;
use crate::error::{Failure, classify};
use std::future::Future;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    /// Total tries, the first included.
    pub attempts: u32,
    /// Wait before the second try; doubled before each further one.
    pub first_delay: Duration,
}

/// 4 attempts, waiting 0.5 s, 1 s and 2 s in between.
pub(crate) const DEFAULT: Backoff = Backoff {
    attempts: 4,
    first_delay: Duration::from_millis(500),
};

/// Why a request finally failed, and after how many tries.
#[derive(Debug)]
pub(crate) struct Failed {
    pub failure: Failure,
    pub attempts: u32,
    /// The error the last attempt returned, for callers that read more of it than the
    /// classification keeps (a conflict's status causes name the field's owners).
    pub error: kube::Error,
}

/// Calls `send` until it succeeds, fails with something not worth retrying, or the attempts
/// run out (then the last 429/5xx is returned as [`Failure::Retryable`]).
pub(crate) async fn send<T, F, Fut>(
    backoff: Backoff,
    target: &Target,
    mut send: F,
) -> Result<T, Failed>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = backoff.first_delay;
    let mut attempt = 1;
    loop {
        let err = match send().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let failure = classify(&err, target);
        let retry = matches!(failure, Failure::Retryable { .. }) && attempt < backoff.attempts;
        if !retry {
            return Err(Failed {
                failure,
                attempts: attempt,
                error: err,
            });
        }
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const FAST: Backoff = Backoff {
        attempts: 4,
        first_delay: Duration::ZERO,
    };

    fn target() -> Target {
        Target {
            server: "https://127.0.0.1:1".to_string(),
            context: Some("t".to_string()),
        }
    }

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("msg", "Reason")
                .with_code(code)
                .boxed(),
        )
    }

    fn run<T>(fut: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(fut)
    }

    #[test]
    fn recovers_when_the_server_recovers() {
        let calls = Cell::new(0);
        let out = run(send(FAST, &target(), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n < 4 { Err(api(503)) } else { Ok(n) } }
        }));
        assert_eq!(out.unwrap(), 4);
    }

    #[test]
    fn gives_up_after_four_attempts() {
        let calls = Cell::new(0);
        let out = run(send(FAST, &target(), || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(api(429)) }
        }));
        let failed = out.unwrap_err();
        assert_eq!(calls.get(), 4);
        assert_eq!(failed.attempts, 4);
        assert!(matches!(
            failed.failure,
            Failure::Retryable { status: 429, .. }
        ));
    }

    #[test]
    fn does_not_retry_client_errors() {
        for code in [401, 403, 404, 409] {
            let calls = Cell::new(0);
            let out = run(send(FAST, &target(), || {
                calls.set(calls.get() + 1);
                async move { Err::<(), _>(api(code)) }
            }));
            assert!(out.is_err());
            assert_eq!(calls.get(), 1, "{code}");
        }
    }

    #[test]
    fn default_backoff_waits_half_a_second_then_doubles() {
        // `send` itself, with DEFAULT, on tokio's paused clock: each sleep advances the virtual
        // clock by exactly its length, so the gaps between calls are the waits `send` chose.
        let calls = std::cell::RefCell::new(Vec::new());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let out = runtime.block_on(send(DEFAULT, &target(), || {
            calls.borrow_mut().push(tokio::time::Instant::now());
            async { Err::<(), _>(api(503)) }
        }));
        assert_eq!(out.unwrap_err().attempts, 4);
        let calls = calls.into_inner();
        let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
        // 0.5 + 1 + 2 s between four attempts: a restarting apiserver gets 3.5 s.
        assert_eq!(
            gaps,
            [500, 1000, 2000].map(Duration::from_millis),
            "waits between attempts"
        );
    }
}
