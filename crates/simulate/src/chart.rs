//! `--chart FILE.svg`: the eviction order on a node as two columns, before and after the
//! fixes, with each pod's two positions joined by a line (a slope chart). Critical
//! components are drawn in red while evictable and in green once immune. Plain SVG written
//! by hand: no dependency, opens in any browser.

use crate::eviction::{EvictionOrder, place};
use crate::report::Simulation;
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

/// The chart for the simulation's eviction view, or `None` when it has none (no `--node`).
pub fn eviction_svg(sim: &Simulation) -> Option<String> {
    let side = sim.eviction.as_ref()?;
    let before = &side.before;
    let critical: HashMap<&str, &str> = sim
        .critical_pods
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let orders: Vec<&EvictionOrder> = std::iter::once(before).chain(side.after.as_ref()).collect();
    let rows = orders.iter().map(|o| o.order.len()).max().unwrap_or(0);
    let immune_rows = orders.iter().map(|o| o.immune.len()).max().unwrap_or(0);
    let width = LEFT * 2 + COL * orders.len() as i64 + GAP * (orders.len() as i64 - 1);
    let height = TOP + (rows + immune_rows) as i64 * ROW + 80;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    svg.push_str(
        "<style>.h{font-weight:bold;font-size:14px}.h2{font-style:italic}\
         .pod{fill:#eeeeee}.crit{fill:#f8d0cc;stroke:#c0392b;stroke-width:2}\
         .imm{fill:#e6f2e3}.safe{fill:#c8e6c0;stroke:#2e7d32;stroke-width:2}\
         .l{stroke:#999999;fill:none}.lc{stroke:#c0392b;stroke-width:2.5;fill:none}</style>\n",
    );
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
    let left = column(&mut svg, LEFT, "before", before, &critical, rows);
    if let Some(after) = &side.after {
        let x = LEFT + COL + GAP;
        let right = column(
            &mut svg,
            x,
            "after recommended classes",
            after,
            &critical,
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
    svg.push_str("</svg>\n");
    Some(svg)
}
