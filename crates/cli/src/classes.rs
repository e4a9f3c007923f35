use crate::args::ClassesArgs;
use crate::audit::{Selection, load_inputs, read_fleet, selection};
use crate::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};
use pg_catalog::{Catalog, Policy};
use pg_checks::Config;
use pg_model::{BUILTIN_CLASSES, CheckId, ClusterRef, Object, visible};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Serialize)]
struct ClassRow {
    /// The cluster, when several are read at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterRef>,
    name: String,
    value: Option<i64>,
    preemption_policy: String,
    global_default: bool,
    builtin: bool,
    defined: bool,
    workloads: u64,
    pods: u64,
    problems: Vec<String>,
}

pub fn run(a: ClassesArgs) -> anyhow::Result<u8> {
    let catalog = pg_catalog::Catalog::builtin();
    let selection = if a.input.cluster.cluster {
        Some(selection(&a.input.cluster)?)
    } else {
        None
    };
    let (tables, input_errors) = match &selection {
        Some(Selection::Many(fleet)) => {
            let parts = read_fleet(fleet, &catalog, |cluster, loaded| {
                let mut table = rows(&loaded.objects, &catalog);
                for r in table.values_mut() {
                    r.cluster = Some(cluster.clone());
                }
                table
            });
            let failed = parts.iter().any(|p| p.result.is_err());
            let tables = parts
                .into_iter()
                .filter_map(|p| Some((Some(p.cluster), p.result.ok()?)))
                .collect();
            (tables, failed)
        }
        one => {
            let cluster = match one {
                Some(Selection::One(opts)) => Some(opts),
                _ => None,
            };
            let loaded = load_inputs(&a.input, cluster, &catalog)?;
            let errors = loaded.problems.iter().any(|p| !p.skipped);
            (vec![(None, rows(&loaded.objects, &catalog))], errors)
        }
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        let rows: Vec<&ClassRow> = tables.iter().flat_map(|(_, t)| t.values()).collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        for (i, (cluster, table)) in tables.iter().enumerate() {
            if let Some(cluster) = cluster {
                if i > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "cluster {}", visible(&cluster.to_string()))?;
            }
            write_table(&mut out, table)?;
        }
    }
    let problems = tables
        .iter()
        .any(|(_, t)| t.values().any(|r| !r.problems.is_empty()));
    Ok(if input_errors {
        EXIT_ERROR
    } else if problems {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

fn write_table(out: &mut impl Write, rows: &BTreeMap<String, ClassRow>) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<28} {:>11} {:<21} {:<7} {:>9} {:>6}  PROBLEMS",
        "NAME", "VALUE", "PREEMPTION", "DEFAULT", "WORKLOADS", "PODS"
    )?;
    for r in rows.values() {
        let value = r.value.map_or("?".to_string(), |v| v.to_string());
        writeln!(
            out,
            "{:<28} {:>11} {:<21} {:<7} {:>9} {:>6}  {}",
            r.name,
            value,
            r.preemption_policy,
            if r.global_default { "yes" } else { "" },
            r.workloads,
            r.pods,
            r.problems.join("; ")
        )?;
    }
    Ok(())
}

/// One row per class: the built-in ones, those defined, and those only named by workloads.
fn rows(objects: &[Object], catalog: &Catalog) -> BTreeMap<String, ClassRow> {
    let mut rows: BTreeMap<String, ClassRow> = BTreeMap::new();
    let row = |name: &str| ClassRow {
        cluster: None,
        name: name.to_string(),
        value: None,
        preemption_policy: "PreemptLowerPriority".into(),
        global_default: false,
        builtin: false,
        defined: false,
        workloads: 0,
        pods: 0,
        problems: Vec::new(),
    };
    for b in BUILTIN_CLASSES {
        let r = rows
            .entry(b.name.to_string())
            .or_insert_with(|| row(b.name));
        r.value = Some(b.value);
        r.builtin = true;
    }
    for o in objects {
        match o {
            Object::PriorityClass(c) => {
                let r = rows.entry(c.name.clone()).or_insert_with(|| row(&c.name));
                r.defined = true;
                r.value = c.value.or(r.value);
                r.global_default = c.global_default;
                if let Some(p) = &c.preemption_policy {
                    r.preemption_policy = p.clone();
                }
            }
            Object::Workload(w) => {
                if let Some(name) = w.pod.priority_class.effective_name() {
                    let r = rows.entry(name.to_string()).or_insert_with(|| row(name));
                    if w.kind == pg_model::WorkloadKind::Pod {
                        r.pods += 1;
                    } else {
                        r.workloads += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let audit = pg_checks::audit(objects, catalog, &Config::new(false, &Policy::default()));
    for f in &audit.findings {
        if f.check == CheckId::InvalidPriorityClass
            && let Some(r) = rows.get_mut(&f.object.name)
        {
            r.problems.push(f.message.clone());
        }
    }
    for r in rows.values_mut() {
        if !r.builtin && !r.defined {
            r.problems
                .push("not defined: pods naming it are rejected (unknown-priority-class)".into());
        }
    }
    rows
}
