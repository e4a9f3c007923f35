//! `--chart FILE.svg`: the eviction order on a node as two columns, before and after the
//! fixes, with each pod's two positions joined by a line (a slope chart); and, with
//! `--pending`, the preemption outcome in the same two columns: the node the scheduler
//! nominates and the pods it deletes there. Critical components are drawn in red while
//! evictable or preempted and in green once immune. Plain SVG written by hand: no
//! dependency, opens in any browser.

use pg_simulate::{EvictionOrder, Outcome, Preemption, Side, Simulation, place};
use std::collections::HashMap;
use std::fmt::Write;

const ROW: i64 = 22;
const COL: i64 = 400;
const GAP: i64 = 140;
const TOP: i64 = 78;
const LEFT: i64 = 20;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One column's boxes; returns each pod's row centre (y) for the connecting lines.
fn column(
    svg: &mut String,
    x: i64,
    title: &str,
    order: &EvictionOrder,
    critical: &HashMap<&str, &str>,
    rows: usize,
) -> HashMap<String, i64> {
    let mut centres = HashMap::new();
    let _ = writeln!(
        svg,
        r#"<text x="{x}" y="{}" class="h">{}</text>"#,
        TOP - 10,
        esc(title)
    );
    for (i, r) in order.order.iter().enumerate() {
        let y = TOP + i as i64 * ROW;
        let is_critical = critical.contains_key(r.pod.as_str());
        let class = if is_critical { "crit" } else { "pod" };
        let label = format!(
            "{}  {}  (priority {})",
            place(r.rank, r.tied),
            r.pod,
            r.priority
        );
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="{y}" width="{COL}" height="{}" class="{class}"/><text x="{}" y="{}">{}</text>"#,
            ROW - 4,
            x + 6,
            y + 13,
            esc(&label)
        );
        centres.insert(r.pod.clone(), y + (ROW - 4) / 2);
    }
    let immune_top = TOP + rows as i64 * ROW + 30;
    let _ = writeln!(
        svg,
        r#"<text x="{x}" y="{}" class="h2">immune (static/mirror or priority ≥ 2000000000)</text>"#,
        immune_top - 8
    );
    for (i, im) in order.immune.iter().enumerate() {
        let y = immune_top + i as i64 * ROW;
        let class = if critical.contains_key(im.pod.as_str()) {
            "safe"
        } else {
            "imm"
        };
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="{y}" width="{COL}" height="{}" class="{class}"/><text x="{}" y="{}">{}</text>"#,
            ROW - 4,
            x + 6,
            y + 13,
            esc(&format!("{}  (priority {})", im.pod, im.priority))
        );
        centres.insert(im.pod.clone(), y + (ROW - 4) / 2);
    }
    centres
}

/// The eviction section: its SVG elements (from y = 0) and its height.
fn eviction_section(side: &Side<EvictionOrder>, critical: &HashMap<&str, &str>) -> (String, i64) {
    let before = &side.before;
    let orders: Vec<&EvictionOrder> = std::iter::once(before).chain(side.after.as_ref()).collect();
    let rows = orders.iter().map(|o| o.order.len()).max().unwrap_or(0);
    let immune_rows = orders.iter().map(|o| o.immune.len()).max().unwrap_or(0);
    let height = TOP + (rows + immune_rows) as i64 * ROW + 80;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="28" class="h">Eviction order on {} under {} pressure (evicted from the top)</text>"#,
        esc(&before.node),
        before.pressure.as_str()
    );
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="46">red: critical components (Multus, kube-proxy, ...) while evictable; green: immune</text>"#
    );
    let left = column(&mut svg, LEFT, "before", before, critical, rows);
    if let Some(after) = &side.after {
        let x = LEFT + COL + GAP;
        let right = column(
            &mut svg,
            x,
            "after recommended classes",
            after,
            critical,
            rows,
        );
        for (pod, y1) in &left {
            let Some(y2) = right.get(pod) else { continue };
            let class = if critical.contains_key(pod.as_str()) {
                "lc"
            } else {
                "l"
            };
            let _ = writeln!(
                svg,
                r#"<path class="{class}" d="M{} {y1} C{} {y1} {} {y2} {x} {y2}"/>"#,
                LEFT + COL,
                LEFT + COL + GAP / 2,
                x - GAP / 2
            );
        }
    }
    (svg, height)
}

/// One box with a label, at row `y`.
fn row(svg: &mut String, x: i64, y: i64, class: &str, label: &str) {
    let _ = writeln!(
        svg,
        r#"<rect x="{x}" y="{y}" width="{COL}" height="{}" class="{class}"/><text x="{}" y="{}">{}</text>"#,
        ROW - 4,
        x + 6,
        y + 13,
        esc(label)
    );
}

/// One preemption column: the pending pod, the outcome, and for a preemption the nominated
/// node with its victims. Returns the number of rows drawn.
fn preemption_column(
    svg: &mut String,
    x: i64,
    title: &str,
    p: &Preemption,
    critical: &HashMap<&str, &str>,
) -> usize {
    let _ = writeln!(
        svg,
        r#"<text x="{x}" y="{}" class="h">{}</text>"#,
        TOP - 10,
        esc(title)
    );
    let pending_class = if critical.contains_key(p.pod.as_str()) {
        "safe"
    } else {
        "pod"
    };
    row(
        svg,
        x,
        TOP,
        pending_class,
        &format!(
            "pending: {}  (priority {}{})",
            p.pod,
            p.priority,
            if p.preemption_policy == "Never" {
                ", preemptionPolicy Never"
            } else {
                ""
            }
        ),
    );
    let mut rows = 1;
    let mut next = |svg: &mut String, class: &str, label: &str| {
        row(svg, x, TOP + rows as i64 * ROW, class, label);
        rows += 1;
    };
    match &p.result {
        Outcome::Fits { nodes } => {
            next(
                svg,
                "imm",
                &format!("fits without preemption on {}", nodes.join(", ")),
            );
        }
        Outcome::Pending { reason } => next(svg, "pod", &format!("stays pending: {reason}")),
        Outcome::Preempts {
            node,
            victims,
            pdb_violations,
            ..
        } => {
            next(
                svg,
                "node",
                &format!(
                    "preempts on node {node}: {} victim(s), {pdb_violations} PDB violation(s)",
                    victims.len()
                ),
            );
            for v in victims {
                let class = if critical.contains_key(v.pod.as_str()) {
                    "crit"
                } else {
                    "pod"
                };
                let pdb = if v.violates_pdb {
                    ", violates its PDB"
                } else {
                    ""
                };
                next(
                    svg,
                    class,
                    &format!("deleted: {}  (priority {}{pdb})", v.pod, v.priority),
                );
            }
        }
    }
    rows
}

/// The preemption section: its SVG elements (from y = 0) and its height.
fn preemption_section(side: &Side<Preemption>, critical: &HashMap<&str, &str>) -> (String, i64) {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="28" class="h">Preemption for {} (the scheduler deletes these pods to make room)</text>"#,
        esc(&side.before.pod)
    );
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="46">red: critical components the scheduler would delete</text>"#
    );
    let mut rows = preemption_column(&mut svg, LEFT, "before", &side.before, critical);
    if let Some(after) = &side.after {
        let x = LEFT + COL + GAP;
        rows = rows.max(preemption_column(
            &mut svg,
            x,
            "after recommended classes",
            after,
            critical,
        ));
    }
    (svg, TOP + rows as i64 * ROW + 30)
}

/// The chart for the simulation's eviction view (with `--node`) and preemption view (with
/// `--pending`), stacked; `None` when it has neither.
pub fn svg(sim: &Simulation) -> Option<String> {
    let critical: HashMap<&str, &str> = sim
        .critical_pods
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut sections = Vec::new();
    let mut columns = 1;
    if let Some(side) = &sim.eviction {
        columns = columns.max(1 + usize::from(side.after.is_some()));
        sections.push(eviction_section(side, &critical));
    }
    if let Some(side) = &sim.preemption {
        columns = columns.max(1 + usize::from(side.after.is_some()));
        sections.push(preemption_section(side, &critical));
    }
    if sections.is_empty() {
        return None;
    }
    let columns = columns as i64;
    let width = LEFT * 2 + COL * columns + GAP * (columns - 1);
    let height: i64 = sections.iter().map(|(_, h)| h).sum();
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    svg.push_str(
        "<style>.h{font-weight:bold;font-size:14px}.h2{font-style:italic}\
         .pod{fill:#eeeeee}.crit{fill:#f8d0cc;stroke:#c0392b;stroke-width:2}\
         .imm{fill:#e6f2e3}.safe{fill:#c8e6c0;stroke:#2e7d32;stroke-width:2}\
         .node{fill:#dde6f3;stroke:#34618f}\
         .l{stroke:#999999;fill:none}.lc{stroke:#c0392b;stroke-width:2.5;fill:none}</style>\n",
    );
    let mut y = 0;
    for (section, h) in sections {
        let _ = writeln!(svg, r#"<g transform="translate(0 {y})">"#);
        svg.push_str(&section);
        svg.push_str("</g>\n");
        y += h;
    }
    svg.push_str("</svg>\n");
    Some(svg)
}
