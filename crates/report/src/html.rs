//! `-o html`: one self-contained page (CSS, script and SVG inline; a Content-Security-Policy
//! that lets it fetch nothing) for people who would rather look than read: a summary per
//! cluster and namespace, every critical component with its class and status, the findings
//! with where they are written, and — when the input has nodes (a snapshot, a live cluster) —
//! the eviction and OOM picture of the nodes where critical pods are most at risk, before and
//! after the recommended classes (the simulator's chart, [`crate::simulate::chart`]).
//!
//! The page reads fully without JavaScript; the script only adds sorting (click a column
//! header, or `?sort=KEY` / `?sort=-KEY`), a filter box (`?q=TEXT`) and, on `serve`'s live
//! dashboard, a reload when the watched cluster has been evaluated again. Every text that
//! comes from an input goes through [`visible`] and is HTML-escaped.

use crate::{RenderOptions, TOOL_NAME, order, text};
use pg_catalog::Catalog;
use pg_model::snapshot::Snapshot;
use pg_model::{ClassRef, ComponentStatus, Finding, Report, Role, Severity, visible};
use pg_simulate::{
    Assume, ContainerKind, OomTable, Options, Placement, Pressure, Risk, Side, place,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::time::SystemTime;

const STYLE: &str = include_str!("html.css");
const SCRIPT: &str = include_str!("html.js");
/// The script's SHA-256 (base64) for the Content-Security-Policy: no other script can run,
/// even if an escaping bug let markup through. `html_browser.rs` fails on the console error a
/// stale hash causes (which names the right one); or recompute it with
/// `openssl dgst -sha256 -binary crates/report/src/html.js | base64`.
const SCRIPT_SHA256: &str = "oJ8c//vnApx7y2EpzE5hapeOoceJ9w1yBt+eMbIlfcw=";
/// Nodes drawn in full (chart and OOM table): the ones holding the most exposed critical pods.
const MAX_NODES: usize = 3;
/// Rows of the "critical pods on nodes" table.
const MAX_RISKS: usize = 100;
/// Findings listed; the rest are counted (the JSON output has them all).
const MAX_FINDINGS: usize = 2000;

/// What the page shows besides the report.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The cluster the report is about (its context, else its server), when it is one.
    pub cluster: Option<String>,
    /// Set by `serve`: the page is its live dashboard.
    pub live: Option<Live>,
    pub pictures: Pictures,
}

/// The dashboard's state: which evaluation the page shows. The script polls `generation`
/// (next to the page) and reloads when it says another number.
#[derive(Clone, Debug)]
pub struct Live {
    pub generation: u64,
    pub evaluated: SystemTime,
}

/// The eviction and OOM picture, or why there is none.
#[derive(Clone, Debug, Default)]
pub enum Pictures {
    /// The input holds no nodes (manifests, templates).
    #[default]
    NoNodes,
    /// The nodes could not be read (e.g. the credentials may not list them).
    Unavailable(String),
    /// Every critical pod's exposure, most exposed first, and the nodes drawn in full.
    Simulated {
        risks: Vec<Risk>,
        nodes: Vec<NodePicture>,
    },
}

/// One node's eviction order (as `simulate --chart` draws it) and OOM scores, before and
/// after the recommended classes.
#[derive(Clone, Debug)]
pub struct NodePicture {
    pub node: String,
    pub chart: String,
    pub oom: Option<Side<OomTable>>,
    /// Critical pods on the node (`namespace/name` -> component name).
    pub critical: BTreeMap<String, String>,
}

/// Simulates memory pressure on `snapshot` (usage measured where the snapshot has it, else
/// requests) as things are and with the recommended classes, and draws the nodes holding
/// the most exposed critical pods.
pub fn pictures(snapshot: &Snapshot, catalog: &Catalog) -> Pictures {
    if snapshot.nodes.is_empty() {
        return Pictures::NoNodes;
    }
    let mut opts = Options {
        node: None,
        pressure: Pressure::Memory,
        assume: Assume::Requests,
        pending: None,
        with_fixes: true,
    };
    let summary = match pg_simulate::simulate(snapshot, catalog, &snapshot.usage, &opts) {
        Ok(s) => s,
        Err(e) => return Pictures::Unavailable(e.to_string()),
    };
    let mut drawn: Vec<&str> = Vec::new();
    for r in &summary.risks {
        if r.before.placement != Placement::Immune && !drawn.contains(&r.node.as_str()) {
            drawn.push(&r.node);
        }
    }
    drawn.truncate(MAX_NODES);
    let mut nodes = Vec::new();
    for node in drawn {
        opts.node = Some(node.to_string());
        let Ok(sim) = pg_simulate::simulate(snapshot, catalog, &snapshot.usage, &opts) else {
            continue;
        };
        let Some(chart) = crate::simulate::chart::svg(&sim) else {
            continue;
        };
        let on_node: BTreeMap<String, String> = sim
            .critical_pods
            .iter()
            .filter(|(pod, _)| {
                summary
                    .risks
                    .iter()
                    .any(|r| &r.pod == *pod && r.node == node)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        nodes.push(NodePicture {
            node: node.to_string(),
            chart,
            oom: sim.oom,
            critical: on_node,
        });
    }
    Pictures::Simulated {
        risks: summary.risks,
        nodes,
    }
}

/// Text from an input (or anything else), HTML-escaped after [`visible`].
struct E<'a>(&'a str);

impl fmt::Display for E<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in visible(self.0).chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Writes the page: `report`, with what `page` adds (cluster, live state, eviction picture).
pub fn render_page(
    report: &Report,
    page: &Page,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    head(report, page, out)?;
    header(report, page, out)?;
    writeln!(out, "<main>")?;
    summary(report, page, out)?;
    let anchors = components(report, out)?;
    findings(report, &anchors, out)?;
    eviction(&page.pictures, out)?;
    problems(report, out)?;
    writeln!(out, "</main>")?;
    writeln!(
        out,
        "<footer>Generated by {TOOL_NAME} {}. This page loads nothing from anywhere; its \
         script only sorts and filters{}. <code>{TOOL_NAME} catalog --explain ID</code> says \
         what a check means.</footer>",
        E(opts.tool_version),
        if page.live.is_some() {
            ", and reloads it when the cluster has been evaluated again"
        } else {
            ""
        }
    )?;
    writeln!(out, "<script>{SCRIPT}</script>")?;
    writeln!(out, "</body>\n</html>")
}

fn head(report: &Report, page: &Page, out: &mut dyn Write) -> io::Result<()> {
    let connect = if page.live.is_some() {
        " connect-src 'self';"
    } else {
        ""
    };
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>")?;
    writeln!(out, "<meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{SCRIPT_SHA256}';{connect} \
         base-uri 'none'; form-action 'none'\">"
    )?;
    writeln!(out, "<meta name=\"referrer\" content=\"no-referrer\">")?;
    if page.live.is_some() {
        // Without JavaScript the dashboard still follows the cluster, more slowly.
        writeln!(
            out,
            "<noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript>"
        )?;
    }
    writeln!(out, "<link rel=\"icon\" href=\"data:,\">")?;
    write!(out, "<title>{TOOL_NAME}")?;
    if let Some(cluster) = &page.cluster {
        write!(out, " {}", E(cluster))?;
    }
    writeln!(out, ": {}</title>", text::severity_counts(report))?;
    writeln!(out, "<style>{STYLE}</style>\n</head>")
}

fn header(report: &Report, page: &Page, out: &mut dyn Write) -> io::Result<()> {
    match &page.live {
        Some(live) => writeln!(out, "<body data-generation=\"{}\">", live.generation)?,
        None => writeln!(out, "<body>")?,
    }
    writeln!(out, "<header>")?;
    write!(out, "<h1>{TOOL_NAME}")?;
    if let Some(cluster) = &page.cluster {
        write!(out, ": <span id=\"cluster\">{}</span>", E(cluster))?;
    }
    writeln!(out, "</h1>")?;
    writeln!(
        out,
        "<p class=\"counts\"><span class=\"sev-error\">{}</span><span class=\"sev-warning\">{}\
         </span><span class=\"sev-info\">{} info</span></p>",
        text::count(report.count(Severity::Error) as u64, "error", "errors"),
        text::count(
            report.count(Severity::Warning) as u64,
            "warning",
            "warnings"
        ),
        report.count(Severity::Info)
    )?;
    let at_risk = report.components.iter().filter(|c| !c.protected).count();
    writeln!(
        out,
        "<p>Audited {}; {}, {at_risk} of them not protected by the class they need.</p>",
        text::scope(&report.stats),
        text::count(
            report.components.len() as u64,
            "critical component",
            "critical components"
        ),
    )?;
    if let Some(live) = &page.live {
        writeln!(
            out,
            "<p id=\"live\" class=\"muted\">Live: evaluation {} at {} UTC; this page reloads when \
             the cluster changes.</p>",
            live.generation,
            utc(live.evaluated)
        )?;
    }
    writeln!(out, "</header>")
}

/// Where findings and components are counted: a namespace, in a cluster when the report is
/// about one (the page's) or several (each finding's and component's own).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Scope<'a> {
    cluster: Option<&'a str>,
    namespace: Option<&'a str>,
}

#[derive(Default)]
struct Tally {
    errors: usize,
    warnings: usize,
    info: usize,
    components: usize,
    protected: usize,
}

/// " in cluster NAME" for a multi-cluster run's objects, escaped; empty otherwise.
fn in_cluster(cluster: &Option<pg_model::ClusterRef>) -> String {
    match cluster {
        Some(c) => format!(" in cluster <code>{}</code>", E(&c.context)),
        None => String::new(),
    }
}

fn summary<'a>(report: &'a Report, page: &'a Page, out: &mut dyn Write) -> io::Result<()> {
    let page_cluster = page.cluster.as_deref();
    let cluster_of = |c: &'a Option<pg_model::ClusterRef>| {
        c.as_ref().map(|c| c.context.as_str()).or(page_cluster)
    };
    let mut rows: BTreeMap<Scope<'_>, Tally> = BTreeMap::new();
    for f in &report.findings {
        let t = rows
            .entry(Scope {
                cluster: cluster_of(&f.cluster),
                namespace: f.object.namespace.as_deref(),
            })
            .or_default();
        match f.severity {
            Severity::Error => t.errors += 1,
            Severity::Warning => t.warnings += 1,
            Severity::Info => t.info += 1,
        }
    }
    for c in &report.components {
        let t = rows
            .entry(Scope {
                cluster: cluster_of(&c.cluster),
                namespace: c.object.namespace.as_deref(),
            })
            .or_default();
        t.components += 1;
        t.protected += usize::from(c.protected);
    }
    writeln!(out, "<section id=\"summary\">\n<h2>Summary</h2>")?;
    if rows.is_empty() {
        return writeln!(
            out,
            "<p>No findings and no critical components.</p>\n</section>"
        );
    }
    let with_cluster = rows.keys().any(|s| s.cluster.is_some());
    writeln!(out, "<table class=\"sortable cards\">\n<thead><tr>")?;
    if with_cluster {
        writeln!(out, "<th data-key=\"cluster\">Cluster</th>")?;
    }
    writeln!(
        out,
        "<th data-key=\"namespace\">Namespace</th><th data-key=\"errors\">Errors</th>\
         <th data-key=\"warnings\">Warnings</th><th data-key=\"info\">Info</th>\
         <th data-key=\"critical\">Critical components</th>\
         <th data-key=\"unprotected\">Not protected</th></tr></thead>\n<tbody>"
    )?;
    for (scope, t) in &rows {
        write!(out, "<tr>")?;
        if with_cluster {
            write!(
                out,
                "<td data-label=\"Cluster\">{}</td>",
                E(scope.cluster.unwrap_or("-"))
            )?;
        }
        let unprotected = t.components - t.protected;
        writeln!(
            out,
            "<td data-label=\"Namespace\">{}</td><td class=\"num{}\" data-label=\"Errors\">{}</td>\
             <td class=\"num{}\" data-label=\"Warnings\">{}</td><td class=\"num\" \
             data-label=\"Info\">{}</td><td class=\"num\" data-label=\"Critical components\">{}\
             </td><td class=\"num{}\" data-label=\"Not protected\">{unprotected}</td></tr>",
            match scope.namespace {
                Some(ns) => format!("<code>{}</code>", E(ns)),
                None => "<span class=\"muted\">(cluster-scoped)</span>".to_string(),
            },
            if t.errors > 0 { " sev-error" } else { "" },
            t.errors,
            if t.warnings > 0 { " sev-warning" } else { "" },
            t.warnings,
            t.info,
            t.components,
            if unprotected > 0 { " status-risk" } else { "" },
        )?;
    }
    writeln!(out, "</tbody></table>\n</section>")
}

/// The critical components table; returns each component's row anchor by object, for the
/// findings' links.
fn components<'a>(
    report: &'a Report,
    out: &mut dyn Write,
) -> io::Result<HashMap<&'a pg_model::ObjectRef, usize>> {
    let mut anchors = HashMap::new();
    writeln!(
        out,
        "<section id=\"components\">\n<h2>Critical components ({})</h2>",
        report.components.len()
    )?;
    if report.components.is_empty() {
        writeln!(
            out,
            "<p>No workload in the input is a critical component the catalog or a structural \
             signal recognises.</p>\n</section>"
        )?;
        return Ok(anchors);
    }
    let mut sorted: Vec<&ComponentStatus> = report.components.iter().collect();
    // Unprotected first, then by object.
    sorted.sort_by(|a, b| a.protected.cmp(&b.protected).then(a.object.cmp(&b.object)));
    writeln!(
        out,
        "<table class=\"sortable filterable cards\">\n<thead><tr>\
         <th data-key=\"status\">Status</th><th data-key=\"workload\">Workload</th>\
         <th data-key=\"component\">Component</th><th data-key=\"class\">Class</th>\
         <th data-key=\"recommended\">Recommended class</th><th data-key=\"where\">Where</th>\
         </tr></thead>\n<tbody>"
    )?;
    for (i, c) in sorted.into_iter().enumerate() {
        anchors.entry(&c.object).or_insert(i);
        let (status, class) = if c.protected {
            ("protected", "status-ok")
        } else {
            ("at risk", "status-risk")
        };
        writeln!(
            out,
            "<tr id=\"component-{i}\" data-object=\"{}\"><td class=\"{class}\" data-label=\"Status\" \
             data-sort=\"{}\">{status}</td><td data-label=\"Workload\"><code>{}</code></td>\
             <td data-label=\"Component\">{} <span class=\"muted\">({}; matched by {})</span></td>\
             <td data-label=\"Class\">{}</td><td data-label=\"Recommended class\"><code>{}</code>\
             </td><td data-label=\"Where\">{}</td></tr>",
            E(&c.object.to_string()),
            u8::from(c.protected),
            E(&c.object.to_string()),
            E(&c.component.name),
            role(c.component.role),
            E(&c.component.matched_by),
            class_ref(&c.class),
            E(&c.component.recommended_class),
            match &c.location {
                Some(l) => format!("<code>{}</code>", E(&l.to_string())),
                None => match &c.cluster {
                    Some(_) => format!(
                        "<span class=\"muted\">{}</span>",
                        in_cluster(&c.cluster).trim_start()
                    ),
                    None => "<span class=\"muted\">in the cluster</span>".to_string(),
                },
            }
        )?;
    }
    writeln!(out, "</tbody></table>\n</section>")?;
    Ok(anchors)
}

fn role(role: Role) -> &'static str {
    match role {
        Role::NodeAgent => "node agent",
        Role::ClusterService => "cluster service",
    }
}

fn class_ref(class: &ClassRef) -> String {
    match class {
        ClassRef::Missing => "<span class=\"status-risk\">none</span>".to_string(),
        ClassRef::Empty => "<span class=\"status-risk\">empty</span>".to_string(),
        ClassRef::Literal { name } => format!("<code>{}</code>", E(name)),
        ClassRef::Templated { .. } => format!("<code>{}</code>", E(&text::class_ref(class))),
    }
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Error => 1,
        Severity::Warning => 2,
        Severity::Info => 3,
    }
}

fn findings(
    report: &Report,
    anchors: &HashMap<&pg_model::ObjectRef, usize>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let all = order::sorted(report);
    writeln!(
        out,
        "<section id=\"findings\">\n<h2>Findings ({})</h2>",
        all.len()
    )?;
    if all.is_empty() {
        return writeln!(out, "<p>No findings.</p>\n</section>");
    }
    writeln!(
        out,
        "<div id=\"tools\" hidden><label>Filter components and findings: <input id=\"filter\" \
         type=\"search\" placeholder=\"multus, kube-system, error...\"></label> \
         <span id=\"filter-count\" class=\"muted\"></span></div>"
    )?;
    writeln!(
        out,
        "<table class=\"sortable filterable cards\">\n<thead><tr>\
         <th data-key=\"severity\">Severity</th><th data-key=\"check\">Check</th>\
         <th data-key=\"object\">Workload</th><th data-key=\"location\">Location</th>\
         <th data-key=\"change\">Class</th><th data-key=\"message\">What and why</th>\
         </tr></thead>\n<tbody>"
    )?;
    for (i, f) in all.iter().take(MAX_FINDINGS).enumerate() {
        finding_row(out, i, f, anchors)?;
    }
    writeln!(out, "</tbody></table>")?;
    if all.len() > MAX_FINDINGS {
        writeln!(
            out,
            "<p class=\"note\">…and {} more findings; <code>{TOOL_NAME} audit -o json</code> \
             lists all of them.</p>",
            all.len() - MAX_FINDINGS
        )?;
    }
    writeln!(out, "</section>")
}

fn finding_row(
    out: &mut dyn Write,
    i: usize,
    f: &Finding,
    anchors: &HashMap<&pg_model::ObjectRef, usize>,
) -> io::Result<()> {
    let object = f.object.to_string();
    let object_cell = match anchors.get(&f.object) {
        Some(a) => format!("<a href=\"#component-{a}\"><code>{}</code></a>", E(&object)),
        None => format!("<code>{}</code>", E(&object)),
    };
    let location = match &f.location {
        Some(l) => format!("<code>{}</code>", E(&l.to_string())),
        None => format!(
            "<span class=\"muted\">object</span> <code>{}</code>{}",
            E(&object),
            in_cluster(&f.cluster)
        ),
    };
    write!(
        out,
        "<tr id=\"finding-{i}\"><td class=\"sev-{}\" data-label=\"Severity\" data-sort=\"{}\">{}</td>\
         <td data-label=\"Check\"><code>{}</code></td><td data-label=\"Workload\">{object_cell}{}</td>\
         <td data-label=\"Location\">{location}</td><td data-label=\"Class\">{}</td>\
         <td class=\"message\" data-label=\"What and why\"><p>{}</p>",
        f.severity,
        severity_rank(f.severity),
        f.severity,
        f.check,
        if f.object_inferred {
            " <span class=\"muted\">(inferred from pods)</span>"
        } else {
            ""
        },
        match text::class_change(f) {
            Some(change) => format!("<code>{}</code>", E(&change)),
            None => String::new(),
        },
        E(&f.message),
    )?;
    if let Some(c) = &f.component {
        write!(out, "<p class=\"muted\">{}</p>", E(&text::component(c)))?;
    }
    if !f.pods.is_empty() {
        write!(out, "<p class=\"muted\">{}</p>", E(&text::pods(&f.pods)))?;
    }
    if let Some(risk) = &f.risk {
        write!(out, "<p class=\"sev-warning\">risk: {}</p>", E(risk))?;
    }
    if let Some(managed_by) = &f.managed_by {
        write!(out, "<p>managed by {}</p>", E(&managed_by.to_string()))?;
    }
    writeln!(out, "</td></tr>")
}

fn eviction(pictures: &Pictures, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"eviction\">\n<h2>Eviction and OOM picture, before and after the \
         recommended classes</h2>"
    )?;
    match pictures {
        Pictures::NoNodes => writeln!(
            out,
            "<p class=\"note\">The input has no nodes to simulate on. Add a snapshot \
             (<code>kubectl get nodes,pods,priorityclasses,poddisruptionbudgets -A -o json</code>) \
             to the inputs, or audit a live cluster, to see where the kubelet would evict and the \
             kernel would OOM-kill critical pods.</p>"
        )?,
        Pictures::Unavailable(why) => {
            writeln!(out, "<p class=\"note\">No picture: {}.</p>", E(why))?
        }
        Pictures::Simulated { risks, nodes } => {
            writeln!(
                out,
                "<p>Under memory pressure the kubelet evicts pods in the order drawn (usage above \
                 requests first, then lower priority); pods at priority 2000000000 or more and \
                 static pods are immune. Usage is measured where the cluster reports it, else \
                 taken to be the requests.</p>"
            )?;
            if nodes.is_empty() {
                writeln!(
                    out,
                    "<p class=\"status-ok\">Every critical pod on the nodes is already immune to \
                     eviction.</p>"
                )?;
            }
            for n in nodes {
                node_picture(out, n)?;
            }
            risk_table(out, risks)?;
        }
    }
    writeln!(out, "</section>")
}

fn node_picture(out: &mut dyn Write, n: &NodePicture) -> io::Result<()> {
    writeln!(
        out,
        "<div class=\"node\" data-node=\"{0}\">\n<h3>Node <code>{0}</code></h3>",
        E(&n.node)
    )?;
    writeln!(
        out,
        "<figure>{}<figcaption>Eviction order on {} under memory pressure: before, and after \
         the recommended classes. Red: critical pods while evictable; green: immune.\
         </figcaption></figure>",
        n.chart,
        E(&n.node)
    )?;
    let Some(oom) = &n.oom else {
        return writeln!(
            out,
            "<p class=\"muted\">The node's memory capacity is unknown: no OOM scores.</p></div>"
        );
    };
    let after: HashMap<(&str, &str), i64> = oom
        .after
        .iter()
        .flat_map(|t| &t.containers)
        .map(|c| ((c.pod.as_str(), c.container.as_str()), c.oom_score_adj))
        .collect();
    let critical: Vec<_> = oom
        .before
        .containers
        .iter()
        .filter(|c| n.critical.contains_key(&c.pod))
        .collect();
    writeln!(
        out,
        "<table class=\"sortable cards oom\">\n<caption>oom_score_adj of critical containers \
         (of {} on the node; -997 is the most protected, 1000 the first killed)</caption>\n\
         <thead><tr><th data-key=\"pod\">Pod</th><th data-key=\"container\">Container</th>\
         <th data-key=\"oom-component\">Component</th><th data-key=\"before\">Before</th>\
         <th data-key=\"after\">After</th></tr></thead>\n<tbody>",
        oom.before.containers.len()
    )?;
    for c in critical {
        let after = after.get(&(c.pod.as_str(), c.container.as_str()));
        writeln!(
            out,
            "<tr><td data-label=\"Pod\"><code>{}</code></td><td data-label=\"Container\">\
             <code>{}</code>{}</td><td data-label=\"Component\">{}</td><td class=\"num {}\" \
             data-label=\"Before\">{}</td><td class=\"num {}\" data-label=\"After\">{}</td></tr>",
            E(&c.pod),
            E(&c.container),
            match c.kind {
                ContainerKind::Container => "",
                ContainerKind::Init => " <span class=\"muted\">(init)</span>",
                ContainerKind::Sidecar => " <span class=\"muted\">(sidecar)</span>",
            },
            E(n.critical.get(&c.pod).map_or("", String::as_str)),
            oom_class(Some(c.oom_score_adj)),
            c.oom_score_adj,
            oom_class(after.copied()),
            after.map_or("-".to_string(), i64::to_string)
        )?;
    }
    writeln!(out, "</tbody></table>\n</div>")
}

/// Protected (negative, down to the -997 of node-critical and Guaranteed pods) or a
/// candidate for the OOM killer.
fn oom_class(adj: Option<i64>) -> &'static str {
    match adj {
        Some(a) if a < 0 => "status-ok",
        Some(_) => "status-risk",
        None => "",
    }
}

fn placement(p: &Placement) -> String {
    match p {
        Placement::Immune => "immune".to_string(),
        Placement::Ranked { rank, tied, of } => format!("{} of {of}", place(*rank, *tied)),
    }
}

fn risk_table(out: &mut dyn Write, risks: &[Risk]) -> io::Result<()> {
    if risks.is_empty() {
        return writeln!(
            out,
            "<p>No pod of a critical component runs on the nodes.</p>"
        );
    }
    writeln!(
        out,
        "<h3>Critical pods on nodes ({})</h3>\n<table class=\"sortable filterable cards\" \
         id=\"risks\">\n<thead><tr><th data-key=\"risk-pod\">Pod</th>\
         <th data-key=\"risk-component\">Component</th><th data-key=\"node\">Node</th>\
         <th data-key=\"risk-class\">Class</th><th data-key=\"evicted\">Evicted before</th>\
         <th data-key=\"evicted-after\">After fix</th><th data-key=\"oom\">oom_score_adj</th>\
         </tr></thead>\n<tbody>",
        risks.len()
    )?;
    for r in risks.iter().take(MAX_RISKS) {
        let (sort, _) = r.before.placement.cmp_key();
        writeln!(
            out,
            "<tr><td data-label=\"Pod\"><code>{}</code></td><td data-label=\"Component\">{}</td>\
             <td data-label=\"Node\"><code>{}</code></td><td data-label=\"Class\">{} → <code>{}\
             </code></td><td class=\"{}\" data-label=\"Evicted before\" data-sort=\"{}\">{}</td>\
             <td class=\"{}\" data-label=\"After fix\">{}</td><td class=\"num\" \
             data-label=\"oom_score_adj\">{}</td></tr>",
            E(&r.pod),
            E(&r.component_name),
            E(&r.node),
            match &r.class {
                Some(c) => format!("<code>{}</code>", E(c)),
                None => "none".to_string(),
            },
            E(&r.recommended_class),
            if sort == 0 {
                "status-risk"
            } else {
                "status-ok"
            },
            r.before.placement.cmp_key().0 * 100_000 + r.before.placement.cmp_key().1,
            placement(&r.before.placement),
            if r.after.placement == Placement::Immune {
                "status-ok"
            } else {
                "status-risk"
            },
            placement(&r.after.placement),
            match (r.before.oom_score_adj, r.after.oom_score_adj) {
                (Some(b), Some(a)) if a != b => format!("{b} → {a}"),
                (Some(b), _) => b.to_string(),
                (None, _) => "-".to_string(),
            }
        )?;
    }
    writeln!(out, "</tbody></table>")?;
    if risks.len() > MAX_RISKS {
        writeln!(
            out,
            "<p class=\"muted\">…and {} more; <code>{TOOL_NAME} simulate</code> lists all.</p>",
            risks.len() - MAX_RISKS
        )?;
    }
    Ok(())
}

fn problems(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if report.problems.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "<section id=\"problems\">\n<h2>Input problems ({})</h2>\n<ul>",
        report.problems.len()
    )?;
    for p in &report.problems {
        writeln!(
            out,
            "<li><span class=\"{}\">{}</span> <code>{}</code>: {}</li>",
            if p.skipped { "muted" } else { "sev-error" },
            if p.skipped { "skipped" } else { "error" },
            E(&p.source),
            E(&p.message)
        )?;
    }
    writeln!(out, "</ul>\n</section>")
}

/// `2026-12-03 04:05:06`.
fn utc(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn escapes_markup_and_shows_control_characters() {
        assert_eq!(
            E("<script>alert('x')</script> & \"q\"").to_string(),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(E("a\nb").to_string(), "&quot;a\\nb&quot;");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_270_706);
        assert_eq!(utc(t), "2026-12-03 04:05:06");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(utc(leap), "2000-02-29 00:00:00");
    }
}
