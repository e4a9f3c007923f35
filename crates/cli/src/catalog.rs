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
        let Some(e) = catalog.entry(id) else {
            bail!("no check or component named {id:?}; `priorityguard catalog` lists them");
        };
        writeln!(out, "{} ({})", e.name, e.id)?;
        writeln!(
            out,
            "role: {}\nrecommended class: {}",
            e.role.as_str(),
            e.recommended_class()
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
        }
        let entries: Vec<Entry> = catalog
            .entries()
            .iter()
            .map(|e| Entry {
                id: &e.id,
                name: &e.name,
                role: e.role.as_str(),
                recommended_class: e.recommended_class(),
            })
            .collect();
        let doc = serde_json::json!({ "components": entries, "checks": checks });
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
            "  {:<30} {:<16} {:<24} {}",
            e.id,
            e.role.as_str(),
            e.recommended_class(),
            e.name
        )?;
    }
    writeln!(
        out,
        "\n`priorityguard catalog --explain ID` explains a check or component."
    )?;
    Ok(EXIT_CLEAN)
}
