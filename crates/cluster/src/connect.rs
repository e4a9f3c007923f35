//! Finding the cluster the way kubectl does, and building a kube-rs client for it.
//!
//! kube-rs' own `Kubeconfig::read` fails when one file named in `KUBECONFIG` is missing, while
//! client-go skips it; and its `Config::infer` cannot take `--context`. So the files are merged
//! here (first value wins, as in client-go) and handed to `Config::from_custom_kubeconfig`.

use crate::ClusterOptions;
use crate::error::{ClusterError, Failure, chain_text, classify};
use crate::list::runtime;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The API server a command talks to, as error messages and confirmation prompts name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The server URL from the kubeconfig (or the in-cluster service address).
    pub server: String,
    /// The kubeconfig context; `None` for the in-cluster service account.
    pub context: Option<String>,
}

impl Target {
    /// The host part of the server URL (for DNS errors).
    pub fn host(&self) -> &str {
        let rest = self
            .server
            .split_once("://")
            .map_or(self.server.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        match authority.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => authority,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.context {
            Some(c) => write!(f, "{} (context \"{}\")", self.server, c),
            None => write!(f, "{} (in-cluster service account)", self.server),
        }
    }
}

/// Which server and context `opts` select, without contacting it (for "will patch ... in
/// context X" prompts).
pub fn target(opts: &ClusterOptions) -> Result<Target, ClusterError> {
    runtime()?
        .block_on(resolve(opts, &Env::current()))
        .map(|r| r.target)
}

/// Every context of the kubeconfig, in the order of its files (`--kubeconfig`, else the
/// `KUBECONFIG` files merged as kubectl merges them, first definition of a name wins, else
/// `~/.kube/config`): what `--all-contexts` audits.
pub fn contexts(opts: &ClusterOptions) -> Result<Vec<String>, ClusterError> {
    contexts_in(opts, &Env::current())
}

pub(crate) fn contexts_in(opts: &ClusterOptions, env: &Env) -> Result<Vec<String>, ClusterError> {
    let Some((kubeconfig, file)) = read_kubeconfig(opts, env)? else {
        return Err(ClusterError::NoContexts {
            file: "no kubeconfig was found (KUBECONFIG, ~/.kube/config)".to_string(),
        });
    };
    let mut names: Vec<String> = Vec::new();
    for c in &kubeconfig.contexts {
        if !names.contains(&c.name) {
            names.push(c.name.clone());
        }
    }
    if names.is_empty() {
        return Err(ClusterError::NoContexts {
            file: format!("{file} has no contexts"),
        });
    }
    Ok(names)
}

/// The parts of the environment kubeconfig discovery reads, so tests need not mutate the
/// process environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Env {
    pub kubeconfig: Option<OsString>,
    pub home: Option<PathBuf>,
}

impl Env {
    pub fn current() -> Env {
        Env {
            kubeconfig: std::env::var_os("KUBECONFIG"),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }
}

/// A kube-rs config and what it points at.
pub(crate) struct Resolved {
    pub config: Config,
    pub target: Target,
}

/// How long to wait for a TCP/TLS connection before calling the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one response may take; a 500-object page takes well under a second.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Reading the kubeconfig is async only because kube-rs' loader is (it reads files
/// synchronously today, and may run an exec credential plugin tomorrow).
pub(crate) async fn resolve(opts: &ClusterOptions, env: &Env) -> Result<Resolved, ClusterError> {
    let (kubeconfig, file) = match read_kubeconfig(opts, env)? {
        Some(found) => found,
        None => return in_cluster(opts, env),
    };
    let available = context_names(&kubeconfig);
    let context = match opts
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone().filter(|c| !c.is_empty()))
    {
        Some(c) => c,
        None => {
            return Err(ClusterError::NoCurrentContext { file, available });
        }
    };
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        return Err(ClusterError::UnknownContext {
            context,
            file,
            available,
        });
    }
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| ClusterError::Kubeconfig {
            file: file.clone(),
            reason: format!("context \"{context}\": {}", chain_text(&e)),
        })?;
    Ok(finish(config, Some(context)))
}

fn finish(mut config: Config, context: Option<String>) -> Resolved {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
    // Our own retry loop (crate::retry) covers 429 and every 5xx with a fixed attempt count.
    config.default_retry = false;
    let target = Target {
        server: config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string(),
        context,
    };
    Resolved { config, target }
}

/// The merged kubeconfig and a description of where it came from, or `None` when there is no
/// kubeconfig at all (then kubectl, too, falls back to the in-cluster service account).
fn read_kubeconfig(
    opts: &ClusterOptions,
    env: &Env,
) -> Result<Option<(Kubeconfig, String)>, ClusterError> {
    if let Some(path) = &opts.kubeconfig {
        // An explicit file must exist, as with `kubectl --kubeconfig`.
        let kc = read_one(path)?;
        return Ok(Some((kc, path.display().to_string())));
    }
    if let Some(value) = env.kubeconfig.as_ref().filter(|v| !v.is_empty()) {
        let paths: Vec<PathBuf> = std::env::split_paths(value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        let existing: Vec<&PathBuf> = paths.iter().filter(|p| p.exists()).collect();
        if !existing.is_empty() {
            let mut merged = Kubeconfig::default();
            for p in &existing {
                merged = merged
                    .merge(read_one(p)?)
                    .map_err(|e| ClusterError::Kubeconfig {
                        file: p.display().to_string(),
                        reason: chain_text(&e),
                    })?;
            }
            let names: Vec<String> = existing.iter().map(|p| p.display().to_string()).collect();
            let file = if names.len() == 1 {
                names[0].clone()
            } else {
                format!("KUBECONFIG ({})", names.join(", "))
            };
            return Ok(Some((merged, file)));
        }
        // client-go skips missing files; with none left it behaves as if KUBECONFIG were unset
        // only for the in-cluster fallback, so do the same.
        return Ok(None);
    }
    if let Some(path) = default_path(env).filter(|p| p.exists()) {
        let kc = read_one(&path)?;
        return Ok(Some((kc, path.display().to_string())));
    }
    Ok(None)
}

fn default_path(env: &Env) -> Option<PathBuf> {
    env.home.as_ref().map(|h| h.join(".kube").join("config"))
}

fn read_one(path: &Path) -> Result<Kubeconfig, ClusterError> {
    Kubeconfig::read_from(path).map_err(|e| ClusterError::Kubeconfig {
        file: path.display().to_string(),
        reason: chain_text(&e),
    })
}

fn context_names(kc: &Kubeconfig) -> String {
    let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn in_cluster(opts: &ClusterOptions, env: &Env) -> Result<Resolved, ClusterError> {
    let looked = match (&opts.kubeconfig, &env.kubeconfig) {
        (_, Some(v)) if !v.is_empty() => format!("KUBECONFIG={}", v.to_string_lossy()),
        _ => default_path(env).map_or_else(
            || "$HOME is not set".to_string(),
            |p| format!("{} does not exist", p.display()),
        ),
    };
    if let Some(context) = &opts.context {
        return Err(ClusterError::UnknownContext {
            context: context.clone(),
            file: format!("any kubeconfig ({looked})"),
            available: "none".to_string(),
        });
    }
    match Config::incluster() {
        Ok(config) => Ok(finish(config, None)),
        Err(e) => Err(ClusterError::NoConfig {
            looked,
            in_cluster: chain_text(&e),
        }),
    }
}

/// Builds the client. Construction fails only on local problems (bad client key, proxy URL).
pub(crate) fn client(resolved: &Resolved) -> Result<kube::Client, ClusterError> {
    client_with(resolved.config.clone(), &resolved.target)
}

/// How long a watch response may stay silent: longer than the 290 s after which kube's
/// watcher asks the server to end a watch (it then resumes it), so a quiet watch is closed by
/// the server and resumed, not cut by a read timeout.
const WATCH_READ_TIMEOUT: Duration = Duration::from_secs(295);

/// [`client`] for long-lived watches.
pub(crate) fn watch_client(resolved: &Resolved) -> Result<kube::Client, ClusterError> {
    let mut config = resolved.config.clone();
    config.read_timeout = Some(WATCH_READ_TIMEOUT);
    client_with(config, &resolved.target)
}

fn client_with(config: Config, target: &Target) -> Result<kube::Client, ClusterError> {
    kube::Client::try_from(config).map_err(|e| match classify(&e, target) {
        Failure::Fatal(err) => err,
        Failure::Retryable { message, .. } | Failure::Api { message, .. } => ClusterError::Tls {
            target: target.clone(),
            reason: message,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn resolved(opts: &ClusterOptions, env: &Env) -> Result<Resolved, ClusterError> {
        runtime().unwrap().block_on(resolve(opts, env))
    }

    const CLUSTERS: &str = r#"
apiVersion: v1
kind: Config
current-context: first
clusters:
- name: c1
  cluster: {server: "https://10.9.8.7:6443", insecure-skip-tls-verify: true}
- name: c2
  cluster: {server: "https://other.example:443", insecure-skip-tls-verify: true}
contexts:
- name: first
  context: {cluster: c1, user: u1}
- name: second
  context: {cluster: c2, user: u1, namespace: team}
"#;
    const USERS: &str = r#"
apiVersion: v1
kind: Config
current-context: ignored-because-first-file-wins
users:
- name: u1
  user: {token: abc}
"#;

    fn env_with(kubeconfig: OsString) -> Env {
        Env {
            kubeconfig: Some(kubeconfig),
            home: None,
        }
    }

    #[test]
    fn kubeconfig_env_merges_files_and_skips_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        fs::write(&a, CLUSTERS).unwrap();
        fs::write(&b, USERS).unwrap();
        let missing = dir.path().join("missing.yaml");
        let value = std::env::join_paths([&a, &missing, &b]).unwrap();
        let r = resolved(&ClusterOptions::default(), &env_with(value.clone())).unwrap();
        assert_eq!(r.target.server, "https://10.9.8.7:6443");
        assert_eq!(r.target.context.as_deref(), Some("first"));
        assert!(
            r.config.auth_info.token.is_some(),
            "user from the second file"
        );

        let opts = ClusterOptions {
            context: Some("second".to_string()),
            ..ClusterOptions::default()
        };
        let r = resolved(&opts, &env_with(value)).unwrap();
        assert_eq!(
            r.target.to_string(),
            "https://other.example:443 (context \"second\")"
        );
        assert_eq!(r.target.host(), "other.example");
        assert_eq!(r.config.default_namespace, "team");
    }

    #[test]
    fn all_contexts_come_from_every_kubeconfig_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        fs::write(&a, CLUSTERS).unwrap();
        let more = r#"
apiVersion: v1
kind: Config
contexts:
- name: second
  context: {cluster: c1, user: u1}
- name: third
  context: {cluster: c1, user: u1}
"#;
        fs::write(&b, more).unwrap();
        let value = std::env::join_paths([&a, &b]).unwrap();
        let names = contexts_in(&ClusterOptions::default(), &env_with(value)).unwrap();
        assert_eq!(names, ["first", "second", "third"]);
        let empty = dir.path().join("empty.yaml");
        fs::write(&empty, "apiVersion: v1\nkind: Config\n").unwrap();
        let opts = ClusterOptions {
            kubeconfig: Some(empty.clone()),
            ..ClusterOptions::default()
        };
        let err = contexts_in(&opts, &Env::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "--all-contexts found no context: {} has no contexts",
                empty.display()
            )
        );
    }

    #[test]
    fn unknown_context_lists_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        fs::write(&a, CLUSTERS).unwrap();
        let opts = ClusterOptions {
            kubeconfig: Some(a.clone()),
            context: Some("nope".to_string()),
            ..ClusterOptions::default()
        };
        let err = resolved(&opts, &Env::default()).err().unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "context \"nope\" is not in {} (contexts: first, second); pick one with --context",
                a.display()
            )
        );
    }

    #[test]
    fn explicit_kubeconfig_must_exist() {
        let opts = ClusterOptions {
            kubeconfig: Some(PathBuf::from("/nonexistent/kubeconfig")),
            ..ClusterOptions::default()
        };
        let err = resolved(&opts, &Env::default()).err().unwrap().to_string();
        assert!(
            err.starts_with("cannot use kubeconfig /nonexistent/kubeconfig: "),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn no_kubeconfig_and_not_in_a_pod() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env {
            kubeconfig: None,
            home: Some(dir.path().to_path_buf()),
        };
        let result = resolved(&ClusterOptions::default(), &env);
        if let Some(host) = std::env::var_os("KUBERNETES_SERVICE_HOST") {
            // Inside a pod the in-cluster configuration is the fallback: either it is used, or
            // the error says why it could not be.
            match result {
                Ok(r) => assert_eq!(
                    r.config.cluster_url.host(),
                    Some(host.to_string_lossy().trim_matches(['[', ']'])),
                    "{}",
                    r.config.cluster_url
                ),
                Err(ClusterError::NoConfig { in_cluster, .. }) => {
                    assert!(!in_cluster.is_empty());
                }
                Err(e) => panic!("neither a kubeconfig nor the in-cluster error: {e}"),
            }
            return;
        }
        let err = result.err().unwrap();
        let text = err.to_string();
        assert!(matches!(err, ClusterError::NoConfig { .. }), "{text}");
        assert!(text.contains(".kube/config does not exist"), "{text}");
        assert!(text.contains("--kubeconfig"), "{text}");
    }
}
