use clap::{Args, Parser, Subcommand, ValueEnum};
use pg_report::Format;
use std::path::PathBuf;

const ABOUT: &str = "Keeps the pods a cluster cannot live without (CNI agents such as Multus, kube-proxy, \
CSI node plugins, DNS, cloud controllers, LB speakers, device plugins) under the right PriorityClass, \
so the scheduler never preempts them and the kubelet never evicts them.";

const AFTER_HELP: &str = "\
Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input error.

Examples:
  priorityguard audit deploy/                    audit a manifest tree (YAML, JSON, *.j2, Helm templates)
  kubectl get pods -A -o json | priorityguard audit --all -
                                                 every pod without a class, grouped by owner
  priorityguard serve --metrics                  watch the current cluster, findings on :9309/metrics
  priorityguard catalog --explain critical-without-priority";

#[derive(Parser, Debug)]
#[command(name = "priorityguard", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Find critical workloads without the right PriorityClass (and other class problems)
    Audit(AuditArgs),
    /// List the known critical components and checks, or explain one
    Catalog(CatalogArgs),
    /// List PriorityClasses with their values, users and problems
    Classes(ClassesArgs),
    /// Fix files (diff, --write, --check, --emit patches) or live workloads (--cluster)
    Fix(crate::fix::FixArgs),
    /// Run as a KRM function (kustomize, kpt): ResourceList on stdin, fixed items and results out
    Krm(crate::krm::KrmArgs),
    /// Generate admission policies that keep critical workloads on the right class
    Policy(crate::policy::PolicyArgs),
    /// Simulate preemption, node-pressure eviction and OOM order, before and after fixes
    Simulate(crate::simulate::SimulateArgs),
    /// Watch a live cluster and serve its audit as Prometheus metrics (serve --metrics)
    Serve(crate::serve::ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) generated from the command-line definitions, or write one
    /// page per subcommand with --dir
    Man {
        /// Write priorityguard.1 and priorityguard-<subcommand>.1 into this directory (e.g.
        /// ~/.local/share/man/man1) instead of printing the main page
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct InputArgs {
    /// Files or directories to read (recursively, honouring .gitignore); `-` reads stdin.
    /// YAML, JSON, `kind: List`, `kubectl get -o json|yaml` output, Jinja2 (*.j2) and Helm
    /// templates are all understood.
    #[arg(
        value_name = "PATH",
        required_unless_present = "cluster",
        conflicts_with = "cluster"
    )]
    pub paths: Vec<String>,
    /// Refuse YAML files larger than this many MiB (JSON of any size is streamed)
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = max_yaml_size())]
    pub max_yaml_size: u64,
    /// A values file merged over each Helm chart's values.yaml, like `helm template -f`
    /// (repeatable; later files win)
    #[arg(
        short = 'f',
        long = "values",
        value_name = "FILE",
        conflicts_with = "cluster"
    )]
    pub values: Vec<PathBuf>,
    #[command(flatten)]
    pub walk: WalkArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// How directories and templates are read.
#[derive(Args, Debug, Clone, Default)]
pub struct WalkArgs {
    /// Follow symbolic links to directories (like ripgrep's -L); a file reached twice is
    /// read once either way
    #[arg(short = 'L', long)]
    pub follow: bool,
    /// An Ansible inventory directory: templates in roles also see its group_vars/
    #[arg(long, value_name = "DIR")]
    pub inventory: Option<PathBuf>,
    /// Also list what was skipped quietly (documents that are not Kubernetes objects,
    /// directory links not followed)
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// Which kubeconfig, and which of its contexts: declared once for every command that reads a
/// live cluster (audit, classes, fix, simulate, serve).
// No `requires = "cluster"` here: `serve` has no --cluster, and the commands that do check
// these options in `option_without_cluster`.
#[derive(Args, Debug, Clone, Default)]
pub struct KubeArgs {
    /// The kubeconfig context to use. audit, classes and fix (without --apply) take several,
    /// comma-separated or repeated, and read those clusters concurrently
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub context: Vec<String>,
    /// The kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

impl KubeArgs {
    /// The context of a command that reads one cluster at a time (`None`: the current one).
    pub fn one_context(&self, what: &str) -> anyhow::Result<Option<String>> {
        match self.context.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.clone())),
            many => anyhow::bail!(
                "{what} works on one cluster at a time, but --context names {}; run it once per context",
                many.len()
            ),
        }
    }
}

/// `-n NS` / `-A`, as kubectl spells them.
#[derive(Args, Debug, Clone, Default)]
pub struct NamespaceArgs {
    /// Only this namespace (PriorityClasses are always read cluster-wide)
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// All namespaces (the default; accepted for kubectl muscle memory)
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ClusterArgs {
    /// Read the live cluster (kubeconfig's current context, like kubectl) instead of files
    // No default value: clap counts a default as present, so `requires = "cluster"` on the
    // cluster-only options would never fire.
    #[arg(long, default_value = None)]
    pub cluster: bool,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Read every context of the kubeconfig (every file of $KUBECONFIG, merged as kubectl
    /// merges them), concurrently; the report names each finding's cluster
    #[arg(long, conflicts_with = "context")]
    pub all_contexts: bool,
    /// With several contexts: how many clusters to read at once [default: 8]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    #[command(flatten)]
    pub namespaces: NamespaceArgs,
}

impl ClusterArgs {
    /// The first cluster-only option given without `--cluster`. clap checks its `requires`
    /// too, but waives them whenever an argument conflicting with `--cluster` (a PATH) is
    /// present, which is exactly when the user forgot `--cluster`.
    pub fn option_without_cluster(&self) -> Option<&'static str> {
        first_set(
            self.cluster,
            &[
                ("--context", !self.kube.context.is_empty()),
                ("--kubeconfig", self.kube.kubeconfig.is_some()),
                ("--all-contexts", self.all_contexts),
                ("--jobs", self.jobs.is_some()),
                ("--namespace", self.namespaces.namespace.is_some()),
                ("--all-namespaces", self.namespaces.all_namespaces),
            ],
        )
    }
}

/// The first of `options` that is set, unless `cluster` is.
pub fn first_set(cluster: bool, options: &[(&'static str, bool)]) -> Option<&'static str> {
    (!cluster)
        .then(|| options.iter().find(|(_, set)| *set).map(|(name, _)| *name))
        .flatten()
}

impl Command {
    /// See [`ClusterArgs::option_without_cluster`].
    pub fn option_without_cluster(&self) -> Option<&'static str> {
        match self {
            Command::Audit(a) => a.input.cluster.option_without_cluster().or(first_set(
                a.input.cluster.cluster,
                &[("--events", a.events)],
            )),
            Command::Classes(c) => c.input.cluster.option_without_cluster(),
            Command::Fix(f) => f.option_without_cluster(),
            Command::Simulate(s) => s.option_without_cluster(),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Also report every workload and pod without a priorityClassName (check `no-priority`)
    #[arg(long)]
    pub all: bool,
    /// A policy file adding catalog entries and changing check severities (see `catalog`)
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Output format
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        default_value = "table"
    )]
    pub format: Format,
    /// Exit with 1 when a finding at or above this severity exists
    #[arg(long, value_enum, default_value = "error")]
    pub fail_on: FailOn,
    /// Colour the table output (auto: only on a terminal, and never with NO_COLOR set)
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// With --cluster: also record a Warning Event on each object with an error or warning
    /// finding (seen in `kubectl describe` and `kubectl events`; a repeat run counts up the
    /// same Event). Needs the priorityguard-events ClusterRole (deploy/cronjob/rbac.yaml)
    #[arg(long, requires = "cluster")]
    pub events: bool,
}

#[derive(Args, Debug)]
pub struct CatalogArgs {
    /// Explain a check (e.g. critical-without-priority) or a component (e.g. multus)
    #[arg(long, value_name = "ID")]
    pub explain: Option<String>,
    /// Show the catalog as extended by this policy file
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Print the catalog as JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ClassesArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// `--max-yaml-size` in MiB: at most what a byte count can hold (2^44 MiB), so the limit in
/// bytes never wraps.
pub fn max_yaml_size() -> clap::builder::RangedU64ValueParser {
    clap::value_parser!(u64).range(0..=u64::MAX >> 20)
}
