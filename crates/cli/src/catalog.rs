use crate::EXIT_CLEAN;
use crate::args::CatalogArgs;
use crate::audit::load_policy;
use anyhow::bail;
use pg_model::CheckId;
use std::io::Write;

pub fn run(a: CatalogArgs) -> anyhow::Result<u8> {
    let (_, catalog) = load_policy(a.policy.as_deref())?;
    let checks = pg_checks::checks_info();
    let mut out = std::io::stdout().lock();
    if let Some(id) = &a.explain {
        if let Some(check) = CheckId::parse(id) {
            let info = pg_checks::explanation(check);
            writeln!(
                out,
                "{} ({})\n\n{}\n\n{}",
                info.id,
                info.severity,
                info.summary,
                info.explanation.trim_end()
            )?;
            return Ok(EXIT_CLEAN);
        }
        if let Some(e) = catalog.entry(id) {
            writeln!(out, "{} ({})", e.name, e.id)?;
            writeln!(
                out,
                "role: {}\nrecommended class: {}\nsource: {}",
                e.role.as_str(),
                e.recommended_class(),
                e.source.as_deref().unwrap_or("(policy file)")
            )?;
            for (what, list) in [
                ("images", &e.images),
                ("containers", &e.containers),
                ("names", &e.names),
                ("labels", &e.labels),
                ("namespaces", &e.namespaces),
                ("host paths", &e.host_paths),
            ] {
                if !list.is_empty() {
                    writeln!(out, "{what}: {}", list.join(", "))?;
                }
                if what == "images" && !e.args.is_empty() {
                    let args: Vec<String> = e.args.iter().map(|a| format!("{a:?}")).collect();
                    writeln!(
                        out,
                        "args: {} (command then args: the images count only where one of these matches, none of the `!` ones)",
                        args.join(", ")
                    )?;
                }
            }
            return Ok(EXIT_CLEAN);
        }
        let Some(s) = catalog.signal(id) else {
            bail!("no check, component or signal named {id:?}; `priorityguard catalog` lists them");
        };
        writeln!(out, "{} ({}), structural signal", s.name, s.id)?;
        writeln!(
            out,
            "role: {}\nrecommended class: {}\nconfidence: {}\nsource: {}\nwhy: {}",
            s.role.as_str(),
            s.recommended_class(),
            if s.likely {
                "likely (warning: \"likely critical\")"
            } else {
                "certain (error)"
            },
            s.source,
            s.why
        )?;
        let kinds: Vec<&str> = s.kinds.iter().map(|k| k.as_str()).collect();
        let ports: Vec<String> = s.ports.iter().map(u16::to_string).collect();
        for (what, list) in [
            ("kinds", kinds.join(", ")),
            ("namespaces", s.namespaces.join(", ")),
            (
                if s.writable {
                    "mounts (writable)"
                } else {
                    "mounts"
                },
                s.mounts.join(", "),
            ),
            ("containers", s.containers.join(", ")),
            ("capabilities (or privileged)", s.capabilities.join(", ")),
            ("ports", ports.join(", ")),
        ] {
            if !list.is_empty() {
                writeln!(out, "{what}: {list}")?;
            }
        }
        if s.host_network {
            writeln!(out, "hostNetwork: true")?;
        }
        if s.webhook {
            writeln!(
                out,
                "webhook: a fail-closed Validating/MutatingWebhookConfiguration intercepting pods calls a Service that selects it"
            )?;
        }
        return Ok(EXIT_CLEAN);
    }
    if a.json {
        #[derive(serde::Serialize)]
        struct Entry<'a> {
            id: &'a str,
            name: &'a str,
            role: &'a str,
            recommended_class: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            source: Option<&'a str>,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            likely: bool,
        }
        let entries: Vec<Entry> = catalog
            .entries()
            .iter()
            .map(|e| Entry {
                id: &e.id,
                name: &e.name,
                role: e.role.as_str(),
                recommended_class: e.recommended_class(),
                source: e.source.as_deref(),
                likely: false,
            })
            .collect();
        let signals: Vec<Entry> = catalog
            .signals()
            .iter()
            .map(|s| Entry {
                id: &s.id,
                name: &s.name,
                role: s.role.as_str(),
                recommended_class: s.recommended_class(),
                source: Some(&s.source),
                likely: s.likely,
            })
            .collect();
        let doc =
            serde_json::json!({ "components": entries, "signals": signals, "checks": checks });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        return Ok(EXIT_CLEAN);
    }
    writeln!(out, "Checks:")?;
    for c in &checks {
        writeln!(
            out,
            "  {:<27} {:<8} {}",
            c.id.as_str(),
            c.severity.as_str(),
            c.summary
        )?;
    }
    writeln!(out, "\nCritical components:")?;
    for e in catalog.entries() {
        writeln!(
            out,
            "  {:<30} {:<16} {:<24} {}\n  {:<30} source: {}",
            e.id,
            e.role.as_str(),
            e.recommended_class(),
            e.name,
            "",
            e.source.as_deref().unwrap_or("(policy file)")
        )?;
    }
    writeln!(
        out,
        "\nStructural signals (when no component above names the workload):"
    )?;
    for s in catalog.signals() {
        writeln!(
            out,
            "  {:<30} {:<16} {:<24} {}{}\n  {:<30} source: {}",
            s.id,
            s.role.as_str(),
            s.recommended_class(),
            s.name,
            if s.likely { " (likely: warning)" } else { "" },
            "",
            s.source
        )?;
    }
    writeln!(
        out,
        "\n`priorityguard catalog --explain ID` explains a check, component or signal."
    )?;
    Ok(EXIT_CLEAN)
}
