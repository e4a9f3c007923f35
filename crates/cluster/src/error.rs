//! What can go wrong talking to a cluster, each as one line a user can act on.
//!
//! kube-rs errors carry nested hyper/rustls/io sources and Debug dumps of `Status`; none of that
//! reaches the user. [`classify`] walks the source chain once and keeps only what tells them
//! what happened and what to do (which server, which context, which verb on which resource).

use crate::connect::Target;
use std::error::Error as StdError;
use thiserror::Error;

/// Where [`crate::load`] and [`crate::apply`] stop. `Display` is a single line naming the API
/// server (and context) and the remedy; no debug output, no backtraces.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterError {
    #[error(
        "no kubeconfig found ({looked}) and not running inside a cluster ({in_cluster}): pass --kubeconfig FILE or set KUBECONFIG"
    )]
    NoConfig { looked: String, in_cluster: String },

    #[error("cannot use kubeconfig {file}: {reason}; fix it or pass another with --kubeconfig")]
    Kubeconfig { file: String, reason: String },

    #[error(
        "context \"{context}\" is not in {file} (contexts: {available}); pick one with --context"
    )]
    UnknownContext {
        context: String,
        file: String,
        available: String,
    },

    #[error("--all-contexts found no context: {file}")]
    NoContexts { file: String },

    #[error("{file} sets no current-context; pass --context (contexts: {available})")]
    NoCurrentContext { file: String, available: String },

    #[error(
        "cannot reach the API server {target}: {reason}; check that the cluster is up and that the kubeconfig's server address is right"
    )]
    Unreachable { target: Target, reason: String },

    #[error(
        "TLS with the API server {target} failed: {reason}; check the kubeconfig's certificate-authority, tls-server-name and client certificate"
    )]
    Tls { target: Target, reason: String },

    #[error(
        "the API server {target} rejected the credentials (401 Unauthorized): the token or client certificate is expired or invalid; log in again or refresh the kubeconfig"
    )]
    Unauthorized { target: Target },

    #[error("getting credentials for the API server {target} failed: {reason}")]
    Credentials { target: Target, reason: String },

    #[error(
        "forbidden (403): {who} may not {verb} {} on the API server {target}; grant the ClusterRole in docs/rbac.md",
        resources_text(.resources)
    )]
    Forbidden {
        target: Target,
        /// `User "alice"` from the server's message, or `this user`.
        who: String,
        verb: String,
        /// Each denied resource (`pods`, `daemonsets.apps`, ...) with its scope
        /// (`in all namespaces`, `in namespace "x"`, `cluster-wide`).
        resources: Vec<(String, String)>,
    },

    #[error(
        "the API server {target} kept answering {status} to {verb} {resource} ({attempts} attempts): {message}; try again later or check the control plane's health"
    )]
    Unavailable {
        target: Target,
        status: u16,
        verb: String,
        resource: String,
        attempts: u32,
        message: String,
    },

    #[error("the API server {target} answered {status} to {verb} {resource}: {message}")]
    Api {
        target: Target,
        status: u16,
        verb: String,
        resource: String,
        message: String,
    },

    #[error("the API server {target} sent a {resource} list priorityguard cannot read: {reason}")]
    Decode {
        target: Target,
        resource: String,
        reason: String,
    },

    #[error("cannot start the Kubernetes client: {reason}")]
    Runtime { reason: String },
}

/// `pods, daemonsets.apps in all namespaces and priorityclasses.scheduling.k8s.io cluster-wide`:
/// resources grouped by scope, in order of first appearance.
fn resources_text(resources: &[(String, String)]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (resource, scope) in resources {
        match groups.iter_mut().find(|(s, _)| s == scope) {
            Some((_, rs)) => rs.push(resource),
            None => groups.push((scope, vec![resource])),
        }
    }
    groups
        .iter()
        .map(|(scope, rs)| format!("{} {scope}", rs.join(", ")))
        .collect::<Vec<_>>()
        .join(" and ")
}

impl ClusterError {
    /// The one error to report when several requests of a command failed: a connection or
    /// credential problem first (it explains the others), then every 403 at once, then the
    /// first of the rest. `None` when nothing failed.
    pub(crate) fn most_telling(mut errors: Vec<ClusterError>) -> Option<ClusterError> {
        let fatal = errors.iter().position(|e| {
            !matches!(
                e,
                ClusterError::Forbidden { .. }
                    | ClusterError::Api { .. }
                    | ClusterError::Decode { .. }
            )
        });
        if let Some(i) = fatal {
            return Some(errors.swap_remove(i));
        }
        let forbidden: Vec<ClusterError> = errors
            .iter()
            .filter(|e| matches!(e, ClusterError::Forbidden { .. }))
            .cloned()
            .collect();
        ClusterError::merge_forbidden(forbidden).or_else(|| errors.into_iter().next())
    }

    /// Folds several 403s of one command into one message listing every denied resource, so
    /// one round of RBAC changes fixes them all.
    pub(crate) fn merge_forbidden(errors: Vec<ClusterError>) -> Option<ClusterError> {
        let mut iter = errors.into_iter();
        let mut first = iter.next()?;
        let ClusterError::Forbidden { resources: all, .. } = &mut first else {
            return None;
        };
        for e in iter {
            let ClusterError::Forbidden { resources, .. } = e else {
                return None;
            };
            all.extend(resources);
        }
        Some(first)
    }
}

/// What a failed request was doing, for messages.
#[derive(Clone, Debug)]
pub(crate) struct Request<'a> {
    pub target: &'a Target,
    pub verb: &'a str,
    pub resource: &'a str,
    /// `None` = all namespaces (or a cluster-scoped resource, see `cluster_scoped`).
    pub namespace: Option<&'a str>,
    pub cluster_scoped: bool,
}

impl Request<'_> {
    fn scope(&self) -> String {
        match (self.cluster_scoped, self.namespace) {
            (true, _) => "cluster-wide".to_string(),
            (false, Some(ns)) => format!("in namespace \"{ns}\""),
            (false, None) => "in all namespaces".to_string(),
        }
    }
}

/// A classified failure of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server is unusable for every request (connection, TLS, credentials): stop.
    Fatal(ClusterError),
    /// 429 or 5xx: worth another attempt.
    Retryable { status: u16, message: String },
    /// The server answered about this request (403, 404, 409, 410, 422, ...).
    Api { status: u16, message: String },
}

/// Sorts a kube-rs error into what the caller should do with it.
pub(crate) fn classify(err: &kube::Error, target: &Target) -> Failure {
    match err {
        kube::Error::Api(status) => {
            let code = status.code;
            let message = one_line(&without_value_dumps(&status.message));
            match code {
                401 => Failure::Fatal(ClusterError::Unauthorized {
                    target: target.clone(),
                }),
                429 | 500..=599 => Failure::Retryable {
                    status: code,
                    message,
                },
                _ => Failure::Api {
                    status: code,
                    message,
                },
            }
        }
        kube::Error::Auth(e) => Failure::Fatal(ClusterError::Credentials {
            target: target.clone(),
            reason: auth_reason(e),
        }),
        kube::Error::RustlsTls(e) => Failure::Fatal(ClusterError::Tls {
            target: target.clone(),
            reason: chain_text(e),
        }),
        kube::Error::InferKubeconfig(e) => Failure::Fatal(ClusterError::Kubeconfig {
            file: "(loaded)".to_string(),
            reason: chain_text(e),
        }),
        other => Failure::Fatal(transport(other, target)),
    }
}

/// Turns a request-level failure into the error the caller returns.
pub(crate) fn request_error(req: &Request<'_>, status: u16, message: &str) -> ClusterError {
    match status {
        401 => ClusterError::Unauthorized {
            target: req.target.clone(),
        },
        403 => ClusterError::Forbidden {
            target: req.target.clone(),
            who: user_in(message).unwrap_or_else(|| "this user".to_string()),
            verb: req.verb.to_string(),
            resources: vec![(req.resource.to_string(), req.scope())],
        },
        _ => ClusterError::Api {
            target: req.target.clone(),
            status,
            verb: req.verb.to_string(),
            resource: req.resource.to_string(),
            message: one_line(message),
        },
    }
}

/// A connection-level failure: refused, DNS, timeout, TLS.
fn transport(err: &kube::Error, target: &Target) -> ClusterError {
    let mut io_kind = None;
    let mut tls = None;
    let mut elapsed = false;
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = source {
        elapsed |= e.is::<tokio::time::error::Elapsed>();
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
            // io::Error::source() skips the error it wraps: look inside, however deep.
            let mut inner = io.get_ref();
            while let Some(i) = inner {
                if let Some(r) = i.downcast_ref::<rustls::Error>() {
                    tls.get_or_insert_with(|| tls_reason(r));
                }
                inner = i
                    .downcast_ref::<std::io::Error>()
                    .and_then(|io| io.get_ref());
            }
        }
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            tls.get_or_insert_with(|| tls_reason(r));
        }
        source = e.source();
    }
    let text = chain_text(err);
    let lower = text.to_ascii_lowercase();
    if let Some(reason) = tls {
        return ClusterError::Tls {
            target: target.clone(),
            reason: one_line(&reason),
        };
    }
    use std::io::ErrorKind as K;
    let reason = match io_kind {
        Some(K::ConnectionRefused) => "connection refused".to_string(),
        Some(K::TimedOut) => "timed out".to_string(),
        Some(K::ConnectionReset) => "connection reset by the server".to_string(),
        // An API server that stops mid-response (a restart, a watch cut off) closes the TLS
        // stream without close_notify: rustls says so in words that mention TLS, but nothing
        // is wrong with TLS.
        Some(K::UnexpectedEof) => "the server closed the connection".to_string(),
        _ if elapsed => "timed out".to_string(),
        // The one classification by text: a failed getaddrinfo is an io::Error of no stable
        // kind (`Uncategorized`), inside hyper-util's private ConnectError ("dns error").
        _ if lower.contains("dns error") || lower.contains("failed to lookup address") => {
            format!("DNS lookup of {} failed", target.host())
        }
        _ if lower.contains("certificate") || lower.contains("tls") => {
            return ClusterError::Tls {
                target: target.clone(),
                reason: text,
            };
        }
        _ => text,
    };
    ClusterError::Unreachable {
        target: target.clone(),
        reason,
    }
}

/// Exec credential plugins (`aws eks get-token`, `kubelogin`, ...) explain themselves on
/// stderr; show that, not kube-rs' Debug dump of the process output.
fn auth_reason(err: &kube::client::AuthError) -> String {
    use kube::client::AuthError as A;
    match err {
        A::AuthExecRun { out, .. } => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let said = one_line(&stderr);
            if said.is_empty() {
                format!("the exec credential plugin failed ({})", out.status)
            } else {
                format!("the exec credential plugin failed ({}): {said}", out.status)
            }
        }
        A::AuthExecStart(e) => {
            format!("cannot run the exec credential plugin ({e}); is it installed and on PATH?")
        }
        other => chain_text(other),
    }
}

/// The common certificate problems in kubectl's words; rustls' own text for the rest.
fn tls_reason(err: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => {
                "the server's certificate is signed by an unknown authority".to_string()
            }
            C::Expired | C::ExpiredContext { .. } => {
                "the server's certificate has expired".to_string()
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet".to_string()
            }
            C::NotValidForName => "the server's certificate is not valid for its name".to_string(),
            C::NotValidForNameContext { expected, .. } => format!(
                "the server's certificate is not valid for {}",
                expected.to_str()
            ),
            other => format!("invalid server certificate: {other:?}"),
        },
        other => other.to_string(),
    }
}

/// `User "alice"` (or `User "system:serviceaccount:ns:sa"`) from a 403 message.
fn user_in(message: &str) -> Option<String> {
    let start = message.find("User \"")?;
    let rest = &message[start + 6..];
    let end = rest.find('"')?;
    Some(format!("User \"{}\"", &rest[..end]))
}

/// The error and its sources, deduplicated (kube-rs repeats the inner message in the outer
/// one), joined by `: ` on a single line.
pub(crate) fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = Some(err);
    while let Some(e) = source {
        let text = one_line(&e.to_string());
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.retain(|p| !text.contains(p.as_str()));
            parts.push(text);
        }
        source = e.source();
    }
    // Innermost messages are the informative ones; keep the last two.
    let keep = parts.len().saturating_sub(2);
    parts.split_off(keep).join(": ")
}

/// Drops the Go struct dumps that validation errors embed (`Invalid value: {"Volumes":null,
/// ...}: field is immutable` becomes `field is immutable`): kilobytes of internal field names
/// that say nothing to the user.
fn without_value_dumps(message: &str) -> String {
    const MARK: &str = "Invalid value: ";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        let value = &rest[at + MARK.len()..];
        let dump = value.starts_with('{') || value.starts_with('[');
        match value_end(value)
            .filter(|_| dump)
            .and_then(|end| value[end..].strip_prefix(": "))
        {
            Some(after) => {
                out.push_str(&rest[..at]);
                rest = after;
            }
            None => {
                out.push_str(&rest[..at + MARK.len()]);
                rest = value;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Byte length of the JSON-like object or array at the start of `s`.
fn value_end(s: &str) -> Option<usize> {
    let (mut depth, mut in_str, mut escaped) = (0u32, false, false);
    for (i, c) in s.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    in_str = false;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// Collapses whitespace (and newlines) and bounds the length, so a message is one line even
/// when a proxy answers with an HTML page.
pub(crate) fn one_line(text: &str) -> String {
    const MAX: usize = 300;
    let mut out = String::with_capacity(text.len().min(MAX + 3));
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > MAX {
            let mut cut = MAX;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push_str("...");
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            server: "https://10.1.2.3:6443".to_string(),
            context: Some("prod".to_string()),
        }
    }

    fn api(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(message, "Reason")
                .with_code(code)
                .boxed(),
        )
    }

    fn unreachable_reason(err: kube::Error) -> String {
        match classify(&err, &target()) {
            Failure::Fatal(ClusterError::Unreachable { reason, .. }) => reason,
            other => panic!("not unreachable: {other:?}"),
        }
    }

    /// Transport failures are told apart by the error types in the chain, not their text.
    #[test]
    fn transport_failures_are_classified_by_type() {
        use std::io::{Error, ErrorKind};
        let io =
            |kind, text: &str| kube::Error::Service(Box::new(Error::new(kind, text.to_string())));
        assert_eq!(
            unreachable_reason(io(ErrorKind::ConnectionRefused, "os error 111")),
            "connection refused"
        );
        assert_eq!(
            unreachable_reason(io(ErrorKind::TimedOut, "deadline has elapsed")),
            "timed out"
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let elapsed = runtime
            .block_on(async {
                tokio::time::timeout(std::time::Duration::ZERO, std::future::pending::<()>()).await
            })
            .unwrap_err();
        assert_eq!(
            unreachable_reason(kube::Error::Service(Box::new(elapsed))),
            "timed out"
        );
        // The same words without the types are not a timeout.
        assert_eq!(
            unreachable_reason(io(
                ErrorKind::UnexpectedEof,
                "peer closed connection without sending TLS close_notify"
            )),
            "the server closed the connection"
        );
        let other = unreachable_reason(io(ErrorKind::Other, "the deadline has elapsed"));
        assert!(other.ends_with(": the deadline has elapsed"), "{other}");
    }

    #[test]
    fn forbidden_names_user_verb_resource_and_doc() {
        let t = target();
        let req = Request {
            target: &t,
            verb: "list",
            resource: "pods",
            namespace: None,
            cluster_scoped: false,
        };
        let msg = r#"pods is forbidden: User "bob" cannot list resource "pods" in API group "" at the cluster scope"#;
        let Failure::Api { status, message } = classify(&api(403, msg), &t) else {
            panic!("403 must be a per-request failure");
        };
        let err = request_error(&req, status, &message);
        assert_eq!(
            err.to_string(),
            r#"forbidden (403): User "bob" may not list pods in all namespaces on the API server https://10.1.2.3:6443 (context "prod"); grant the ClusterRole in docs/rbac.md"#
        );
    }

    #[test]
    fn unauthorized_is_fatal() {
        let t = target();
        assert_eq!(
            classify(&api(401, "Unauthorized"), &t),
            Failure::Fatal(ClusterError::Unauthorized { target: t.clone() })
        );
        assert!(
            ClusterError::Unauthorized { target: t }
                .to_string()
                .contains("expired or invalid")
        );
    }

    #[test]
    fn throttling_and_server_errors_are_retryable() {
        let t = target();
        for code in [429, 500, 503, 504] {
            assert!(matches!(
                classify(&api(code, "busy"), &t),
                Failure::Retryable { status, .. } if status == code
            ));
        }
        assert!(matches!(
            classify(&api(404, "not found"), &t),
            Failure::Api { status: 404, .. }
        ));
    }

    #[test]
    fn validation_value_dumps_are_dropped() {
        let msg = r#"Job.batch "once" is invalid: spec.template.spec: Invalid value: {"Volumes":null,"Containers":[{"Name":"c","Args":["a}b"]}],"X":"q\"}"}: field is immutable"#;
        assert_eq!(
            without_value_dumps(msg),
            r#"Job.batch "once" is invalid: spec.template.spec: field is immutable"#
        );
        let plain = r#"spec.replicas: Invalid value: -1: must be greater than or equal to 0"#;
        assert_eq!(without_value_dumps(plain), plain);
        let quoted = r#"metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#;
        assert_eq!(without_value_dumps(quoted), quoted, "short values stay");
    }

    #[test]
    fn messages_are_one_bounded_line() {
        let html = format!("<html>\n<body>{}</body>\n</html>", "x ".repeat(500));
        let line = one_line(&html);
        assert!(!line.contains('\n'));
        assert!(line.len() <= 303, "{}", line.len());
        assert!(line.ends_with("..."));
    }
}
