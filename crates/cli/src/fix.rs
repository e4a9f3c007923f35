//! `fix`: for files, edit the manifests (a diff, in place, or a CI check) or emit patches;
//! with `--cluster`, plan patches from the audit's findings, dry-run them on the server, and
//! apply them after confirmation.

use crate::args::{ClusterArgs, InputArgs};
use crate::audit::{Fleet, Selection, load_inputs, load_policy, read_fleet, selection};
use crate::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use pg_catalog::{Catalog, Policy};
use pg_checks::Config;
use pg_fix::{FixError, Fixer, Note, Options, Source, emit};
use pg_model::{CheckId, Finding, visible};
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DryRun {
    /// Ask the API server to validate the patches without storing them
    Server,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum EmitFormat {
    /// Strategic-merge patch files and a kustomization.yaml
    Kustomize,
    /// `kubectl patch` commands
    Kubectl,
    /// RFC 6902 JSON patches
    JsonPatch,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Files: only the pod spec's priorityClassName line changes (priority is removed); comments,
quoting, key order, flow style, CRLF, template statements stay byte for byte. The new key goes
after the pod spec's leading one-line keys (hostNetwork, dnsPolicy, ...), or first when the spec
starts with a nested block, and before a template conditional rather than inside it.
--diff (the default) prints a unified diff and exits 0; --check exits 1 when something would
change (with --diff it also prints the diff); --write replaces each file atomically after
re-parsing and re-auditing the result. Exit 2: a file could not be read, fixed or written (one
line on stderr each; the original is left as it was).

Cluster: without --apply the patches are only printed, as the `kubectl apply --server-side`
commands that make the same change. With --apply every patch is a server-side apply of priorityClassName alone, with field manager
`priorityguard`, sent first as a dry run; then, after --yes or a confirmation, for real. A class
that another manager owns (Helm, Argo CD, Flux, kubectl) is a conflict that names it: fix it
where that manager takes it from, or take the field with --force-conflicts. Deployments,
DaemonSets and StatefulSets roll their pods to the new template.
Bare pods are never patched: a pod's priority is fixed when it is created, so it must be
recreated from a fixed manifest.

See docs/fix.md.")]
pub struct FixArgs {
    /// Files or directories to fix (YAML, JSON, Jinja2, Helm templates); `-` reads stdin
    #[arg(
        value_name = "PATH",
        required_unless_present_any = ["cluster", "post_render"],
        conflicts_with_all = ["cluster", "post_render"]
    )]
    pub paths: Vec<String>,
    /// Be a Helm post-renderer (or any manifest filter): read the manifests on stdin, write
    /// them to stdout with every critical workload on its recommended class, every other
    /// byte as it was
    #[arg(long, conflicts_with_all = ["cluster", "diff", "write", "check", "emit", "template_expr", "values"])]
    pub post_render: bool,
    /// With --post-render: change nothing; exit 1, naming each workload that would change
    /// on stderr, so that the install fails
    #[arg(long, requires = "post_render")]
    pub audit_only: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// A policy file adding catalog entries and changing check severities
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Print a unified diff of the fixes (the default)
    #[arg(long, conflicts_with_all = ["cluster", "write", "emit"])]
    pub diff: bool,
    /// Fix the files in place (atomically; the result is re-audited first)
    #[arg(long, conflicts_with_all = ["cluster", "check", "emit"])]
    pub write: bool,
    /// Exit 1 if anything would change (for CI and pre-commit)
    #[arg(long, conflicts_with_all = ["cluster", "emit"])]
    pub check: bool,
    /// Use this PriorityClass instead of the recommended one
    #[arg(long, value_name = "NAME")]
    pub class: Option<String>,
    /// Fix only this check's findings
    #[arg(long, value_name = "CHECK-ID", value_parser = fixable_check)]
    pub only: Option<CheckId>,
    /// In templates, insert this expression instead of the class name, e.g.
    /// "{{ .Values.priorityClassName }}" (Helm: the class is added to values.yaml)
    #[arg(long, value_name = "EXPR", conflicts_with = "cluster")]
    pub template_expr: Option<String>,
    /// Print patches instead of editing the files
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "cluster")]
    pub emit: Option<EmitFormat>,
    /// Write the emitted patches into this directory instead of stdout
    #[arg(long, value_name = "DIR", requires = "emit")]
    pub out: Option<PathBuf>,
    /// Refuse YAML files larger than this many MiB
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = crate::args::max_yaml_size())]
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
    pub walk: crate::args::WalkArgs,
    /// Patch the workloads (after a server-side dry run and confirmation)
    #[arg(long, requires = "cluster")]
    pub apply: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y', requires = "apply")]
    pub yes: bool,
    /// Only run the server-side dry run
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        requires = "apply",
        require_equals = true
    )]
    pub dry_run: Option<DryRun>,
    /// Take priorityClassName from the field manager that owns it (Helm, Argo CD, Flux,
    /// kubectl): without it, an owned class is reported as a conflict naming its owner, who
    /// would put the old value back at its next sync
    #[arg(long, requires = "apply")]
    pub force_conflicts: bool,
}

impl FixArgs {
    /// See [`ClusterArgs::option_without_cluster`].
    pub fn option_without_cluster(&self) -> Option<&'static str> {
        self.cluster
            .option_without_cluster()
            .or(crate::args::first_set(
                self.cluster.cluster,
                &[
                    ("--apply", self.apply),
                    ("--yes", self.yes),
                    ("--dry-run", self.dry_run.is_some()),
                ],
            ))
    }
}

fn fixable_check(id: &str) -> Result<CheckId, String> {
    let names: Vec<&str> = CheckId::ALL
        .into_iter()
        .filter(|&c| pg_checks::is_fixable(c))
        .map(CheckId::as_str)
        .collect();
    CheckId::parse(id)
        .filter(|&c| pg_checks::is_fixable(c))
        .ok_or_else(|| format!("fixable checks are {}", names.join(", ")))
}

pub fn run(a: FixArgs) -> anyhow::Result<u8> {
    let (policy, catalog) = load_policy(a.policy.as_deref())?;
    if a.post_render {
        return post_render(a, &policy, &catalog);
    }
    if a.cluster.cluster {
        run_cluster(a, &policy, &catalog)
    } else {
        run_files(a, &policy, &catalog)
    }
}

fn run_files(a: FixArgs, policy: &Policy, catalog: &Catalog) -> anyhow::Result<u8> {
    let stdin = if a.paths.iter().any(|p| p == "-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        Some(Source::stdin(text))
    } else {
        None
    };
    let input = InputArgs {
        paths: a.paths.iter().filter(|p| *p != "-").cloned().collect(),
        max_yaml_size: a.max_yaml_size,
        values: a.values.clone(),
        walk: a.walk.clone(),
        cluster: a.cluster,
    };
    // What `--write` may change: the paths named, and the values files named with `--values`
    // (a class a values file decides is fixed there).
    let inputs: Vec<PathBuf> = input
        .paths
        .iter()
        .map(PathBuf::from)
        .chain(input.values.iter().cloned())
        .collect();
    let mut loaded = if input.paths.is_empty() {
        pg_sources::Loaded::default()
    } else {
        load_inputs(&input, None, catalog)?
    };
    let mut failed = loaded.problems.iter().any(|p| !p.skipped);
    if let Some(s) = &stdin {
        loaded.objects.extend(pg_fix::read_objects(s)?);
    }
    let config = Config::new(false, policy);
    let audit = pg_checks::audit(&loaded.objects, catalog, &config);
    let fixer = Fixer::new(
        &loaded.objects,
        catalog,
        &config,
        Options {
            class: a.class.clone(),
            only: a.only,
            template_expr: a.template_expr.clone(),
            values: a.values.clone(),
        },
    );
    let plan = fixer.plan(&audit.findings, |name| match &stdin {
        Some(s) if name == pg_fix::STDIN_NAME => Ok(s.clone()),
        _ => Source::read(std::path::Path::new(name)),
    });

    if let Some(format) = a.emit {
        failed |= print_errors(&plan.errors);
        print_notes(&plan.notes);
        let changes: Vec<_> = plan.changes().cloned().collect();
        let emitted = emit::emit(emit_format(format), &changes, a.out.as_deref());
        print_notes(&emitted.notes);
        std::io::stdout()
            .lock()
            .write_all(emitted.stdout.as_bytes())?;
        if let Err(e) = emitted.write_files() {
            failed |= print_errors(&[e]);
        }
        for (path, _) in &emitted.files {
            eprintln!("wrote {}", visible(&path.display().to_string()));
        }
        return Ok(if failed { EXIT_ERROR } else { EXIT_CLEAN });
    }

    let outcome = fixer.apply(plan);
    failed |= print_errors(&outcome.errors);
    print_notes(&outcome.notes);
    let mut out = std::io::stdout().lock();
    let mut changed = false;
    let mut stdin_written = false;
    let mut write_errors = Vec::new();
    for fix in &outcome.files {
        changed = true;
        let name = &fix.source.name;
        let what = describe(&fix.changes);
        if a.write {
            if fix.source.path.is_none() {
                out.write_all(fix.after.as_bytes())?;
                stdin_written = true;
                continue;
            }
            let written = pg_fix::check_within(&fix.source, &inputs)
                .and_then(|()| pg_fix::write_atomic(&fix.source, &fix.after));
            match written {
                Ok(()) => eprintln!("fixed {}{what}", visible(name)),
                Err(e) => write_errors.push(e),
            }
            continue;
        }
        if a.check {
            eprintln!("would fix {}{what}", visible(name));
        }
        if a.diff || !a.check {
            out.write_all(pg_fix::unified(name, &fix.source.text, &fix.after).as_bytes())?;
        }
    }
    out.flush()?;
    failed |= print_errors(&write_errors);
    // `fix --write -` is a filter: standard input with nothing to fix goes through as it is.
    if let (true, false, Some(s)) = (a.write, stdin_written, &stdin) {
        out.write_all(s.text.as_bytes())?;
    }
    Ok(if failed {
        EXIT_ERROR
    } else if a.check && changed {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

/// stdin -> stdout, as Helm runs a post-renderer: stdout is the whole stream or nothing, and
/// any failure fails the install with the stderr lines as the reason.
fn post_render(a: FixArgs, policy: &Policy, catalog: &Catalog) -> anyhow::Result<u8> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    let Ok(text) = String::from_utf8(bytes) else {
        print_errors(&[FixError::NotUtf8 {
            file: pg_fix::STDIN_NAME.into(),
        }]);
        return Ok(EXIT_ERROR);
    };
    let options = Options {
        class: a.class.clone(),
        only: a.only,
        ..Options::default()
    };
    let config = Config::new(false, policy);
    let streamed = match pg_fix::fix_text(
        Source::stdin(text),
        catalog,
        &config,
        options,
        !a.audit_only,
    ) {
        Ok(s) => s,
        Err(errors) => {
            print_errors(&errors);
            return Ok(EXIT_ERROR);
        }
    };
    print_notes(&streamed.notes);
    if a.audit_only && !streamed.changes.is_empty() {
        for c in &streamed.changes {
            let checks: Vec<&str> = c.checks.iter().map(|c| c.as_str()).collect();
            let mut needs = Vec::new();
            if let Some(class) = &c.class {
                needs.push(format!("priorityClassName {class}"));
            }
            if c.remove_priority {
                needs.push("no spec.priority".to_string());
            }
            let line = format!(
                "priorityguard --audit-only: {} needs {} ({}); nothing was changed",
                c.object,
                needs.join(" and "),
                checks.join(", ")
            );
            eprintln!("{}", line.escape_debug());
        }
        return Ok(EXIT_FINDINGS);
    }
    let mut out = std::io::stdout().lock();
    out.write_all(streamed.text.as_bytes())?;
    out.flush()?;
    Ok(EXIT_CLEAN)
}

fn emit_format(f: EmitFormat) -> emit::Format {
    match f {
        EmitFormat::Kustomize => emit::Format::Kustomize,
        EmitFormat::Kubectl => emit::Format::Kubectl,
        EmitFormat::JsonPatch => emit::Format::JsonPatch,
    }
}

/// ` (kube-system/DaemonSet/x: priorityClassName system-node-critical)`.
fn describe(changes: &[pg_fix::Change]) -> String {
    let parts: Vec<String> = changes
        .iter()
        .map(|c| {
            let mut what = Vec::new();
            if let Some(class) = &c.class {
                what.push(format!("priorityClassName {}", visible(class)));
            }
            if c.remove_priority {
                what.push("priority removed".to_string());
            }
            format!("{}: {}", visible(&c.object.to_string()), what.join(", "))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

/// One line each on stderr; true if there were any.
fn print_errors(errors: &[FixError]) -> bool {
    for e in errors {
        eprintln!("error: {}", visible(&e.to_string()));
    }
    !errors.is_empty()
}

fn print_notes(notes: &[Note]) {
    for n in notes {
        eprintln!(
            "note: {}: not fixed: {}",
            visible(&n.location),
            visible(&n.message)
        );
    }
}

/// `--class` and `--only` apply to live objects too.
fn adjust(findings: Vec<Finding>, a: &FixArgs) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|f| a.only.is_none_or(|o| o == f.check))
        .map(|mut f| {
            if let (Some(class), Some(_)) = (&a.class, &f.recommended_class) {
                f.recommended_class = Some(class.clone());
            }
            f
        })
        .collect()
}

fn run_cluster(a: FixArgs, policy: &Policy, catalog: &Catalog) -> anyhow::Result<u8> {
    let opts = match selection(&a.cluster)? {
        Selection::One(opts) => opts,
        Selection::Many(fleet) => {
            if a.apply {
                bail!(
                    "fix --apply patches one cluster at a time, but {} contexts are selected; \
                     name one with --context (without --apply, all of them are printed)",
                    fleet.contexts.len()
                );
            }
            return print_fleet(&a, &fleet, policy, catalog);
        }
    };
    let findings = {
        let input = InputArgs {
            paths: Vec::new(),
            max_yaml_size: 0,
            values: Vec::new(),
            walk: Default::default(),
            cluster: a.cluster.clone(),
        };
        let loaded = load_inputs(&input, Some(&opts), catalog)?;
        let audit = pg_checks::audit(&loaded.objects, catalog, &Config::new(false, policy));
        adjust(audit.findings, &a)
    };
    let (patches, refused) = pg_cluster::plan(&findings);
    let target = pg_cluster::target(&opts)?;

    let mut out = std::io::stdout().lock();
    if !write_plan(&mut out, &patches, &refused, None, &target.to_string())? {
        return Ok(EXIT_CLEAN);
    }
    if !a.apply {
        return Ok(EXIT_CLEAN);
    }

    writeln!(out, "\nserver-side dry run on {target}:")?;
    let mode = pg_cluster::ApplyMode {
        dry_run_only: true,
        force_conflicts: a.force_conflicts,
    };
    let dry = pg_cluster::apply(&opts, &patches, mode)?;
    let mut failed = report(&mut out, &dry)?;
    if a.dry_run == Some(DryRun::Server) || failed == patches.len() {
        return Ok(if failed > 0 { EXIT_ERROR } else { EXIT_CLEAN });
    }
    let ready = patches.len() - failed;
    if !a.yes && !confirm(&mut out, &format!("patch {ready} workload(s) on {target}?"))? {
        writeln!(out, "nothing changed")?;
        return Ok(EXIT_CLEAN);
    }
    writeln!(out, "\napplying:")?;
    let mode = pg_cluster::ApplyMode {
        dry_run_only: false,
        ..mode
    };
    let applied = pg_cluster::apply(&opts, &patches, mode)?;
    failed = report(&mut out, &applied)?;
    Ok(if failed > 0 { EXIT_ERROR } else { EXIT_CLEAN })
}

/// The patches as commands (`--context` added when several clusters are printed), and the
/// workloads that cannot be patched; returns whether there is anything to patch.
fn write_plan(
    out: &mut impl Write,
    patches: &[pg_cluster::PlannedPatch],
    refused: &[(pg_model::ObjectRef, String)],
    context: Option<&str>,
    target: &str,
) -> anyhow::Result<bool> {
    for (object, why) in refused {
        writeln!(
            out,
            "# not patched: {}: {}",
            visible(&object.to_string()),
            visible(&why.to_string())
        )?;
    }
    if patches.is_empty() {
        writeln!(out, "# nothing to patch on {}", visible(target))?;
        return Ok(false);
    }
    for p in patches {
        let effect = if p.will_roll {
            "its pods will be replaced (rolling update)"
        } else {
            "only pods created from now on get it"
        };
        writeln!(
            out,
            "# {}: priorityClassName {}; {effect}",
            visible(&p.object.to_string()),
            visible(&p.class)
        )?;
        // Said before the command: patching the live object alone is undone at the next sync.
        if let Some(managed_by) = &p.managed_by {
            writeln!(out, "# managed by {}", visible(&managed_by.to_string()))?;
        }
        match context {
            Some(c) => writeln!(out, "{} --context {}", p.kubectl_command(), shell_word(c))?,
            None => writeln!(out, "{}", p.kubectl_command())?,
        }
    }
    Ok(true)
}

/// `fix --cluster` (print mode) over several clusters: each cluster's patches under a
/// `# cluster NAME (SERVER)` line, each command with its `--context`. Exit 2 when a cluster
/// could not be read (after printing the others).
fn print_fleet(
    a: &FixArgs,
    fleet: &Fleet,
    policy: &Policy,
    catalog: &Catalog,
) -> anyhow::Result<u8> {
    let config = Config::new(false, policy);
    let parts = read_fleet(fleet, catalog, |_, loaded| {
        let audit = pg_checks::audit(&loaded.objects, catalog, &config);
        pg_cluster::plan(&adjust(audit.findings, a))
    });
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "# cluster {}", visible(&part.cluster.to_string()))?;
        match &part.result {
            Ok((patches, refused)) => {
                write_plan(
                    &mut out,
                    patches,
                    refused,
                    Some(&part.cluster.context),
                    &part.cluster.to_string(),
                )?;
            }
            Err(reason) => {
                failed = true;
                writeln!(out, "# not read: {}", visible(reason))?;
            }
        }
    }
    Ok(if failed { EXIT_ERROR } else { EXIT_CLEAN })
}

/// A word the shell reads back as it is: left bare when it is plain, else single-quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%_+=:,./-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", visible(word).replace('\'', r"'\''"))
    }
}

/// One line per object; returns how many failed.
fn report(out: &mut impl Write, results: &[pg_cluster::ApplyResult]) -> anyhow::Result<usize> {
    let mut failed = 0;
    for r in results {
        match &r.outcome {
            Ok(()) => writeln!(out, "  ok      {}", visible(&r.object.to_string()))?,
            Err(e) => {
                failed += 1;
                writeln!(
                    out,
                    "  FAILED  {}: {}",
                    visible(&r.object.to_string()),
                    visible(&e.to_string())
                )?;
            }
        }
    }
    Ok(failed)
}

/// Asks on the terminal; without one, refuses (scripts must say `--yes`).
fn confirm(out: &mut impl Write, question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("not patching without confirmation: stdin is not a terminal; pass --yes");
    }
    write!(out, "{question} [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
