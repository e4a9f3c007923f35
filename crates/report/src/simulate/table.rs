//! The terminal view of a [`Simulation`]: sections for eviction order, OOM scores, preemption
//! and critical pods' exposure, before and after side by side, critical components marked ▶.

use crate::table::Painter;
use anstyle::{AnsiColor, Style};
use pg_model::snapshot::{bytes, millis};
use pg_simulate::{
    Assume, ContainerKind, EvictionOrder, Fit, OomTable, Outcome, Placement, Preemption, Pressure,
    Ranked, Side, Simulation, place,
};
use std::io::{self, Write};

const PLAIN: Style = Style::new();
const BOLD: Style = Style::new().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const GREEN: Style = AnsiColor::Green.on_default().bold();
const DIM: Style = Style::new().dimmed();
/// Marks the pods of critical components (Multus, kube-proxy, ...).
const MARK: &str = "▶";

/// Cuts `s` to `width` characters, ending in `…` when cut, and pads it to `width`.
fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        format!("{s}{}", " ".repeat(width - n))
    } else {
        let cut: String = s.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Writes the simulation's sections to `out`, styled when `color` is set.
pub fn render(sim: &Simulation, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let p = Painter { color };
    write_summary(sim, &p, out)?;
    if let Some(fixes) = &sim.fixes {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            p.paint(BOLD, "Fixes applied for the \"after\" views")
        )?;
        if fixes.is_empty() {
            writeln!(
                out,
                "  none: every critical component already has its class"
            )?;
        }
        for f in fixes {
            writeln!(
                out,
                "  {MARK} {} ({}): {} -> {} (priority {} -> {})",
                f.pod,
                f.component_name,
                f.from_class.as_deref().unwrap_or("no class"),
                f.to_class,
                f.from_priority,
                f.to_priority
            )?;
        }
    }
    if let Some(e) = &sim.eviction {
        writeln!(out)?;
        write_eviction(sim, e, &p, out)?;
    }
    if let Some(o) = &sim.oom {
        writeln!(out)?;
        write_oom(sim, o, &p, out)?;
    }
    if let Some(pre) = &sim.preemption {
        writeln!(out)?;
        write_preemption(pre, &p, out)?;
    }
    if sim.eviction.is_none() && sim.preemption.is_none() {
        writeln!(out)?;
        write_risks(sim, &p, out)?;
    }
    Ok(())
}

/// `1 node`, `3 nodes`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn write_summary(sim: &Simulation, p: &Painter, out: &mut dyn Write) -> io::Result<()> {
    let s = &sim.summary;
    writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!(
                "Snapshot: {}, {}, {} (+2 built in), {}",
                count(s.nodes, "node", "nodes"),
                count(s.pods, "pod", "pods"),
                count(s.priority_classes, "PriorityClass", "PriorityClasses"),
                count(
                    s.pod_disruption_budgets,
                    "PodDisruptionBudget",
                    "PodDisruptionBudgets"
                ),
            )
        )
    )?;
    if sim.eviction.is_none() && sim.preemption.is_some() {
        return Ok(());
    }
    let assumed = match s.assume {
        Assume::Requests => "request",
        Assume::Limits => "limit (request when unlimited)",
    };
    match &s.usage_source {
        Some(src) if s.pods_with_measured_usage >= s.pods => {
            writeln!(out, "Usage: measured for every pod ({src})")
        }
        Some(src) => writeln!(
            out,
            "Usage: measured for {} of {} pods ({src}); the others assumed = {assumed}",
            s.pods_with_measured_usage, s.pods
        ),
        None => writeln!(
            out,
            "Usage: nothing measured (pass --usage FILE); every pod assumed = {assumed}"
        ),
    }
}

fn usage_text(r: &Ranked, pressure: Pressure) -> String {
    if pressure == Pressure::Pid {
        return match r.usage {
            Some(n) => format!("{n} processes ({})", r.usage_source.as_str()),
            None => "processes unknown".into(),
        };
    }
    let usage = match r.usage {
        Some(u) => bytes(u),
        None => ">0".into(),
    };
    let over = if r.exceeds_request {
        ", over request"
    } else {
        ""
    };
    format!(
        "{usage} / {} ({}{over})",
        bytes(r.request),
        r.usage_source.as_str()
    )
}

fn write_eviction(
    sim: &Simulation,
    side: &Side<EvictionOrder>,
    p: &Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let before = &side.before;
    writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!(
                "Eviction order on {} under {} pressure (the kubelet evicts from the top, one pod per round)",
                before.node,
                before.pressure.as_str()
            )
        )
    )?;
    let mark = |pod: &str| -> &str {
        if sim.critical_pods.contains_key(pod) {
            MARK
        } else {
            " "
        }
    };
    match &side.after {
        None => {
            writeln!(
                out,
                "  {}",
                p.paint(
                    DIM,
                    &format!(
                        "{:>7}   {:<44} {:>11}  usage / request",
                        "rank", "pod", "priority"
                    )
                )
            )?;
            for r in &before.order {
                let line = format!(
                    "{:>7} {} {} {:>11}  {}",
                    place(r.rank, r.tied),
                    mark(&r.pod),
                    fit(&r.pod, 44),
                    r.priority,
                    usage_text(r, before.pressure)
                );
                let style = if sim.critical_pods.contains_key(&r.pod) {
                    RED
                } else {
                    PLAIN
                };
                writeln!(out, "  {}", p.paint(style, &line))?;
            }
        }
        Some(after) => {
            writeln!(
                out,
                "  {}",
                p.paint(
                    DIM,
                    &format!("{:<54}   {}", "before", "after (recommended classes)")
                )
            )?;
            let rows = before.order.len().max(after.order.len());
            for i in 0..rows {
                let cell = |o: &EvictionOrder| match o.order.get(i) {
                    Some(r) => format!(
                        "{:>7} {} {} {:>11}",
                        place(r.rank, r.tied),
                        mark(&r.pod),
                        fit(&r.pod, 32),
                        r.priority
                    ),
                    None => " ".repeat(54),
                };
                let line = format!("  {}   {}", cell(before), cell(after));
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    let immune = |o: &EvictionOrder| -> String {
        o.immune
            .iter()
            .map(|i| {
                let mark = if sim.critical_pods.contains_key(&i.pod) {
                    "▶ "
                } else {
                    ""
                };
                format!("{mark}{}", i.pod)
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(
        out,
        "  {} {}",
        p.paint(GREEN, "immune (static/mirror or priority >= 2000000000):"),
        or_none(immune(before))
    )?;
    if let Some(after) = &side.after {
        writeln!(
            out,
            "  {} {}",
            p.paint(GREEN, "immune after fix:"),
            or_none(immune(after))
        )?;
        for (pod, component) in &sim.critical_pods {
            let at = |o: &EvictionOrder| match o.position(pod) {
                Some(r) => Some(format!(
                    "evicted {} of {}",
                    place(r.rank, r.tied),
                    o.order.len()
                )),
                None if o.is_immune(pod) => Some("immune".into()),
                None => None,
            };
            if let (Some(b), Some(a)) = (at(before), at(after))
                && a != b
            {
                writeln!(
                    out,
                    "  {MARK} {pod} ({component}): {b} -> {}",
                    p.paint(BOLD, &a)
                )?;
            }
        }
    }
    Ok(())
}

fn or_none(s: String) -> String {
    if s.is_empty() { "none".into() } else { s }
}

fn write_oom(
    sim: &Simulation,
    side: &Side<OomTable>,
    p: &Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let before = &side.before;
    writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!(
                "oom_score_adj on {} (memory capacity {}), most likely OOM-killed first",
                before.node,
                bytes(before.memory_capacity)
            )
        )
    )?;
    let with_after = side.after.is_some();
    let header = if with_after {
        format!(
            "{:>6} {:>6}   {:<52} {:<10} why",
            "before", "after", "pod/container", "QoS"
        )
    } else {
        format!("{:>6}   {:<52} {:<10} why", "adj", "pod/container", "QoS")
    };
    writeln!(out, "  {}", p.paint(DIM, &header))?;
    // Regular init containers have exited by the time the pod runs; they are in -o json.
    for c in before
        .containers
        .iter()
        .filter(|c| c.kind != ContainerKind::Init)
    {
        let kind = if c.kind == ContainerKind::Sidecar {
            " (sidecar)"
        } else {
            ""
        };
        let name = format!("{}/{}{kind}", c.pod, c.container);
        let critical = sim.critical_pods.contains_key(&c.pod);
        let mark = if critical { MARK } else { " " };
        let after = side.after.as_ref().and_then(|a| {
            a.containers
                .iter()
                .find(|x| x.pod == c.pod && x.container == c.container)
        });
        let line = match after {
            Some(a) => format!(
                "{:>6} {:>6} {mark} {} {:<10} {}",
                c.oom_score_adj,
                a.oom_score_adj,
                fit(&name, 52),
                c.qos.as_str(),
                if a.reason == c.reason {
                    c.reason.to_string()
                } else {
                    format!("{} -> {}", c.reason, a.reason)
                }
            ),
            None => format!(
                "{:>6} {mark} {} {:<10} {}",
                c.oom_score_adj,
                fit(&name, 52),
                c.qos.as_str(),
                c.reason
            ),
        };
        let style = if critical { RED } else { PLAIN };
        writeln!(out, "  {}", p.paint(style, &line))?;
    }
    Ok(())
}

fn requests_text(p: &Preemption) -> String {
    let r = &p.requests;
    let mut parts = vec![
        format!("cpu {}", millis(r.cpu_millis)),
        format!("memory {}", bytes(r.memory)),
    ];
    if r.ephemeral_storage > 0 {
        parts.push(format!("ephemeral-storage {}", bytes(r.ephemeral_storage)));
    }
    parts.extend(r.scalar.iter().map(|(k, v)| format!("{k} {v}")));
    parts.join(", ")
}

fn outcome_lines(pre: &Preemption) -> Vec<String> {
    let head = format!(
        "{} at priority {}{}",
        pre.pod,
        pre.priority,
        pre.class
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default()
    );
    match &pre.result {
        Outcome::Fits { nodes } => vec![format!(
            "{head}: fits without preemption on {} (the scheduler scores them and picks one)",
            nodes.join(", ")
        )],
        Outcome::Pending { reason } => vec![format!("{head}: stays Pending: {reason}")],
        Outcome::Preempts {
            node,
            victims,
            pdb_violations,
            decided_by,
            candidates,
            sampling,
        } => {
            let mut lines = vec![format!(
                "{head}: preempts {} pod(s) on {node}{}{}",
                victims.len(),
                if *pdb_violations > 0 {
                    format!(", violating {pdb_violations} PodDisruptionBudget allowance(s)")
                } else {
                    String::new()
                },
                decided_by
                    .as_deref()
                    .map(|d| format!(" (chosen by: {d})"))
                    .unwrap_or_default()
            )];
            if let Some(sm) = sampling {
                lines.push(format!(
                    "  {} nodes could make room: the scheduler dry-runs about {} of them from a random \
                     one and nominates the best it tried, so any candidate below may be chosen",
                    sm.potential_nodes, sm.tried
                ));
            }
            for v in victims {
                lines.push(format!(
                    "  victim {} (priority {}{}){}",
                    v.pod,
                    v.priority,
                    v.class
                        .as_deref()
                        .map(|c| format!(", {c}"))
                        .unwrap_or_default(),
                    if v.violates_pdb {
                        ", violates its PDB"
                    } else {
                        ""
                    }
                ));
            }
            for c in candidates.iter().filter(|c| &c.node != node) {
                lines.push(format!(
                    "  other candidate {}: {} victim(s), highest priority {}, {} PDB violation(s)",
                    c.node,
                    c.victims.len(),
                    c.victims[0].priority,
                    c.pdb_violations
                ));
            }
            lines
        }
    }
}

fn write_preemption(side: &Side<Preemption>, p: &Painter, out: &mut dyn Write) -> io::Result<()> {
    let before = &side.before;
    writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!(
                "Scheduling {} (requests {}; preemptionPolicy {})",
                before.pod,
                requests_text(before),
                before.preemption_policy
            )
        )
    )?;
    for status in &before.nodes {
        let why = match &status.fit {
            Fit::Fits => "fits".to_string(),
            Fit::Unschedulable(r) => format!("{r} (preemption may help)"),
            Fit::Unresolvable(r) => format!("{r} (preemption cannot help)"),
        };
        writeln!(
            out,
            "  {}",
            p.paint(DIM, &format!("{}: {why}", status.node))
        )?;
    }
    let labelled = |label: &str, lines: Vec<String>, out: &mut dyn Write| -> io::Result<()> {
        for (i, line) in lines.into_iter().enumerate() {
            let head = if i == 0 { label } else { "" };
            writeln!(out, "  {}{line}", p.paint(BOLD, &format!("{head:<8}")))?;
        }
        Ok(())
    };
    if side.after.is_some() {
        labelled("before:", outcome_lines(before), out)?;
    } else {
        labelled("", outcome_lines(before), out)?;
    }
    if let Some(after) = &side.after {
        labelled("after:", outcome_lines(after), out)?;
    }
    Ok(())
}

fn write_risks(sim: &Simulation, p: &Painter, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        p.paint(BOLD, "Critical components' pods, most exposed first")
    )?;
    if sim.risks.is_empty() {
        writeln!(
            out,
            "  no pod of a catalogued critical component runs on a node of the snapshot"
        )?;
    }
    for r in &sim.risks {
        let exposed = matches!(r.before.placement, Placement::Ranked { .. });
        let who = format!(
            "{MARK} {} ({}, {})",
            r.pod,
            r.component_name,
            r.class.as_deref().unwrap_or("no class")
        );
        writeln!(
            out,
            "  {}: {}",
            p.paint(if exposed { RED } else { GREEN }, &who),
            r.line()
        )?;
    }
    writeln!(
        out,
        "{} --node NODE for a node's whole eviction and OOM order, --pending POD.yaml for preemption, --with-fixes to compare",
        p.paint(BOLD, "hint:")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_sources::snapshot::{Builder, pending_pod};
    use serde_json::json;

    fn pod(name: &str, node: Option<&str>, priority: i64) -> serde_json::Value {
        json!({
            "kind": "Pod",
            "metadata": {"namespace": "ns", "name": name},
            "spec": {
                "nodeName": node,
                "priority": priority,
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]
            }
        })
    }

    #[test]
    fn a_sampled_preemption_says_any_candidate_may_be_chosen() {
        let mut items: Vec<_> = (0..120)
            .map(|i| json!({"kind": "Node", "metadata": {"name": format!("n{i:03}")}, "status": {"allocatable": {"cpu": "1"}}}))
            .collect();
        items.extend((0..120).map(|i| pod(&format!("p{i}"), Some(&format!("n{i:03}")), 10)));
        let mut builder = Builder::default();
        let list = json!({"kind": "List", "items": items}).to_string();
        builder.add_text(list.as_bytes(), "snapshot.json").unwrap();
        let s = builder.finish();
        let pending = pod("new", None, 100).to_string();
        let new = pending_pod(&pending, "new.json", &s, None).unwrap();
        let lines = outcome_lines(&pg_simulate::preempt(&s, &new));
        assert!(
            lines.iter().any(|l| l
                .contains("120 nodes could make room: the scheduler dry-runs about 100 of them")),
            "{lines:#?}"
        );
    }
}
