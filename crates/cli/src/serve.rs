//! `serve --metrics`: the arguments, then pg-serve does the rest.

use crate::EXIT_CLEAN;
use crate::audit::load_policy;
use clap::Args;
use pg_checks::Config;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The default `--listen`: loopback, so the dashboard (and the metrics) stay on the machine
/// unless asked otherwise (`deploy/serve/` listens on 0.0.0.0 for Prometheus). The Prometheus
/// project's list of exporter ports (9100-9999) has been full since 2023; 9309 is not
/// registered for priorityguard, so pick another with `--listen` if something on the same
/// network namespace already uses it.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9309";

#[derive(Args, Debug)]
#[command(after_help = "\
Watches PriorityClasses, ResourceQuotas, workloads and pods (list, then watch), reruns the audit
of `audit --cluster` about a second after changes settle (at most 5 s later while they go on),
and serves:
  /          a dashboard: `audit -o html`'s page for the last evaluation (critical components,
             findings, the eviction and OOM picture of the nodes where critical pods are most
             at risk, before and after the recommended classes), reloaded when the cluster
             changes; read-only
  /metrics   Prometheus text format (OpenMetrics when asked for): one series per finding,
             priorityguard_findings{check,severity,namespace,kind,name} 1, and the health of
             the watches and evaluations (see docs/serve.md)
  /healthz   200 while the process runs
  /readyz    200 once every kind is listed and the first evaluation is published

Needs get, list and watch on the resources of docs/rbac/audit-clusterrole.yaml (the dashboard's
eviction picture also lists nodes and PodDisruptionBudgets: deploy/serve/rbac.yaml). Errors before
the first lists (kubeconfig, connection, credentials, 403) are one line on stderr and exit
code 2; later ones are retried with backoff and counted in priorityguard_watch_errors_total.
SIGTERM or Ctrl-C stops it (exit 0).

Examples:
  priorityguard serve --metrics                       current context, all namespaces, 127.0.0.1:9309
  priorityguard serve --metrics --listen 127.0.0.1:0  a free port, printed on stderr
  priorityguard serve --metrics --listen 0.0.0.0:9309 reachable from other machines (Prometheus)
  priorityguard serve --metrics --context prod -n kube-system --policy policy.yaml
  curl -s localhost:9309/metrics | grep '^priorityguard_findings'

In a cluster (ServiceAccount, binding, Deployment, Service), then the dashboard on
http://127.0.0.1:9309/:
  kubectl apply -f docs/rbac/audit-clusterrole.yaml -f deploy/namespace.yaml -f deploy/serve/
  kubectl port-forward -n priorityguard deploy/priorityguard 9309")]
pub struct ServeArgs {
    /// Serve the audit's findings as Prometheus metrics on /metrics, next to the dashboard on /
    /// (required)
    #[arg(long, required = true)]
    pub metrics: bool,
    /// Address and port to listen on (loopback by default; 0.0.0.0 for every interface); port 0
    /// picks a free one (the address is printed on stderr)
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// A policy file adding catalog entries and changing check severities (as for `audit`)
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Also report every workload and pod without a priorityClassName (check `no-priority`)
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub kube: crate::args::KubeArgs,
    #[command(flatten)]
    pub namespaces: crate::args::NamespaceArgs,
}

pub fn run(a: ServeArgs, bin_name: &str) -> anyhow::Result<u8> {
    let (policy, catalog) = load_policy(a.policy.as_deref())?;
    let opts = pg_serve::Options {
        cluster: pg_cluster::ClusterOptions {
            context: a.kube.one_context("serve")?,
            kubeconfig: a.kube.kubeconfig,
            namespace: a.namespaces.namespace,
            progress: false,
        },
        listen: a.listen,
        config: Config::new(a.all, &policy),
        catalog,
    };
    pg_serve::run(opts, &|notice| {
        // A log line that cannot be written is not worth stopping the server for.
        let _ = writeln!(std::io::stderr(), "{bin_name}: {notice}");
    })?;
    Ok(EXIT_CLEAN)
}
