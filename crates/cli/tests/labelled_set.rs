//! The labelled set (testdata/labelled): does `audit` recognise what the maintainers of real
//! upstream projects ship as critical, and leave alone what they ship as ordinary?
//!
//! Positives are workloads whose maintainers set `system-node-critical` or
//! `system-cluster-critical`: that one line is removed (in a copy; every other byte stays) and
//! `audit` must report an error recommending the maintainers' class (it holds) or the other
//! system class (partial). Negatives are workloads from the same repositories shipped without a
//! class: `audit` on the unmodified file must report no error for them (a warning is counted).
//! The labels come from the maintainers' files (LABELS.tsv says which line), never from
//! priorityguard's output. docs/catalog.md carries the resulting table; `PG_ACCEPT=1` rewrites it.

mod common;
use common::*;

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const NODE: &str = "system-node-critical";
const CLUSTER: &str = "system-cluster-critical";
/// Positives recognised with a system class (either one), at least this share.
const REQUIRED_SHARE: f64 = 0.95;
const BEGIN: &str = "<!-- BEGIN labelled_set.rs: generated, do not edit by hand -->";
const END: &str = "<!-- END labelled_set.rs -->";

fn labelled_dir() -> PathBuf {
    repo_root().join("testdata/labelled")
}

/// One row of LABELS.tsv.
#[derive(Debug)]
struct Row {
    file: String,
    kind: String,
    namespace: String,
    name: String,
    component: String,
    /// `system-node-critical`, `system-cluster-critical` or `ordinary`
    label: String,
    /// The line that sets the maintainers' class (positives only).
    class_line: Option<usize>,
    source: String,
}

impl Row {
    fn project(&self) -> &str {
        self.file.split('/').next().unwrap()
    }
    fn positive(&self) -> bool {
        self.label != "ordinary"
    }
    fn workload(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }
}

fn tsv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    lines.next().expect("a header line");
    lines
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn rows() -> Vec<Row> {
    tsv(&labelled_dir().join("LABELS.tsv"))
        .into_iter()
        .map(|c| {
            assert_eq!(c.len(), 7, "LABELS.tsv row {c:?}");
            let (namespace, name) = c[2].split_once('/').expect("namespace/name");
            assert!(
                [NODE, CLUSTER, "ordinary"].contains(&c[4].as_str()),
                "label {c:?}"
            );
            Row {
                file: c[0].clone(),
                kind: c[1].clone(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                component: c[3].clone(),
                label: c[4].clone(),
                class_line: (c[5] != "-").then(|| c[5].parse().expect("class_line")),
                source: c[6].clone(),
            }
        })
        .collect()
}

/// project -> (repository, commit) from SOURCES.tsv; every labelled file must be listed there.
fn sources(rows: &[Row]) -> BTreeMap<String, (String, String)> {
    let mut by_project = BTreeMap::new();
    let mut files = Vec::new();
    for c in tsv(&labelled_dir().join("SOURCES.tsv")) {
        assert_eq!(c.len(), 4, "SOURCES.tsv row {c:?}");
        files.push(format!("{}/{}", c[0], c[3]));
        by_project.insert(c[0].clone(), (c[1].clone(), c[2].clone()));
    }
    for r in rows {
        assert!(files.contains(&r.file), "{} has no SOURCES.tsv row", r.file);
    }
    by_project
}

/// What `audit` said about one labelled workload.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// Positive: an error recommending the maintainers' class.
    Hold(String),
    /// Positive: an error recommending the other system class.
    Partial(String),
    /// Positive: no error recommending a system class; why.
    Miss(String),
    /// Negative: no finding.
    Clean,
    /// Negative: a warning only (allowed, counted).
    Warned(String),
    /// Negative: an error.
    FalseAlarm(String),
}

/// `audit -o json FILE`, run from the repository root like the other CLI tests.
fn audit(file: &Path) -> Result<Value, String> {
    let out = priorityguard(&["audit", "-o", "json", &file.display().to_string()]);
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "no JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// The findings about `row`'s workload: same kind and name, and the same namespace when both
/// the file and the report name one (a templated namespace may be left out of the report).
fn findings_for<'a>(report: &'a Value, row: &Row) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let o = &f["object"];
            let ns = o["namespace"].as_str().unwrap_or("");
            o["kind"] == row.kind.as_str()
                && o["name"] == row.name.as_str()
                && (ns.is_empty() || row.namespace.is_empty() || ns == row.namespace)
        })
        .collect()
}

fn describe(f: &Value) -> String {
    let component = f["component"]["id"].as_str().unwrap_or("no component");
    format!(
        "{} {} ({component})",
        f["severity"].as_str().unwrap(),
        f["check"].as_str().unwrap()
    )
}

/// The first input problem, located relative to the labelled file (the copy's directory varies).
fn unread(report: &Value, row: &Row) -> Option<String> {
    report["problems"].as_array().unwrap().first().map(|p| {
        let source = p["source"].as_str().unwrap_or("");
        let at = source.find(&row.file).map_or(source, |i| &source[i..]);
        format!("not read: {at}: {}", p["message"].as_str().unwrap_or(""))
    })
}

/// Copies the row's project (chart values, role defaults stay next to the file), removes the
/// maintainers' class line from the copy and audits the copy.
fn positive(row: &Row) -> Outcome {
    let line = row.class_line.expect("a positive names its class line");
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &labelled_dir().join(row.project()),
        &tmp.path().join(row.project()),
    );
    let copy = tmp.path().join(&row.file);
    let text = std::fs::read(&copy).unwrap();
    let stripped = without_line(&text, line, &row.file);
    std::fs::write(&copy, stripped).unwrap();
    let report = match audit(&copy) {
        Ok(r) => r,
        Err(e) => return Outcome::Miss(e),
    };
    let found = findings_for(&report, row);
    let errors: Vec<&&Value> = found
        .iter()
        .filter(|f| f["severity"] == "error" && f["recommended_class"].is_string())
        .collect();
    let other = if row.label == NODE { CLUSTER } else { NODE };
    if let Some(f) = errors
        .iter()
        .find(|f| f["recommended_class"] == row.label.as_str())
    {
        return Outcome::Hold(describe(f));
    }
    if let Some(f) = errors.iter().find(|f| f["recommended_class"] == other) {
        return Outcome::Partial(format!("{other}: {}", describe(f)));
    }
    if let Some(f) = found.first() {
        return Outcome::Miss(format!("only {}", describe(f)));
    }
    Outcome::Miss(unread(&report, row).unwrap_or_else(|| "no finding".to_string()))
}

fn negative(row: &Row) -> Outcome {
    let report = match audit(&labelled_dir().join(&row.file)) {
        Ok(r) => r,
        Err(e) => return Outcome::FalseAlarm(e),
    };
    if let Some(p) = unread(&report, row) {
        // Not an alarm, but a negative nobody looked at proves nothing.
        panic!("{}: {p}", row.file);
    }
    let found = findings_for(&report, row);
    if let Some(f) = found.iter().find(|f| f["severity"] == "error") {
        return Outcome::FalseAlarm(describe(f));
    }
    match found.iter().find(|f| f["severity"] == "warning") {
        Some(f) => Outcome::Warned(describe(f)),
        None => Outcome::Clean,
    }
}

/// `text` without its 1-based line `line`; that line must be the one setting the class.
fn without_line(text: &[u8], line: usize, file: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for (i, l) in text.split_inclusive(|b| *b == b'\n').enumerate() {
        if i + 1 == line {
            let l = String::from_utf8_lossy(l);
            assert!(
                l.trim_start().starts_with("priorityClassName:"),
                "{file}:{line} is not the class line: {l:?}"
            );
        } else {
            out.extend_from_slice(l);
        }
    }
    assert!(out.len() < text.len(), "{file} has no line {line}");
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Markdown cell text: pipes escaped, no line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn result_text(o: &Outcome) -> String {
    match o {
        Outcome::Hold(d) => format!("holds: {d}"),
        Outcome::Partial(d) => format!("partial: {d}"),
        Outcome::Miss(why) => format!("**missed**: {why}"),
        Outcome::Clean => "no finding".to_string(),
        Outcome::Warned(d) => format!("warning: {d}"),
        Outcome::FalseAlarm(d) => format!("**false alarm**: {d}"),
    }
}

/// The generated part of docs/catalog.md: the tally and one table row per labelled workload.
fn table(
    rows: &[Row],
    outcomes: &[Outcome],
    sources: &BTreeMap<String, (String, String)>,
    tally: &str,
) -> String {
    let mut t = format!(
        "{BEGIN}\n\n{tally}\n\n\
         | project | workload | component | maintainer's class | source | today's result |\n\
         |---|---|---|---|---|---|\n"
    );
    for (r, o) in rows.iter().zip(outcomes) {
        let (repository, commit) = &sources[r.project()];
        let path = r.file.split_once('/').unwrap().1;
        let anchor = r.class_line.map(|l| format!("#L{l}")).unwrap_or_default();
        t += &format!(
            "| {} | `{}` | {} | {} | [{}]({}{anchor}) ({}) | {} |\n",
            cell(repository),
            cell(&r.workload()),
            cell(&r.component),
            r.label,
            cell(path),
            cell(&format!("../testdata/labelled/{}", r.file)).replace(' ', "%20"),
            cell(&format!("{}, commit {}", r.source, &commit[..12])),
            cell(&result_text(o)),
        );
    }
    t += &format!("\n{END}");
    t
}

/// Fails (or, with `PG_ACCEPT=1`, rewrites) when docs/catalog.md does not carry `generated`.
fn check_doc(generated: &str) -> Result<(), String> {
    let path = repo_root().join("docs/catalog.md");
    let doc = std::fs::read_to_string(&path).map_err(|e| format!("docs/catalog.md: {e}"))?;
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        return Err("docs/catalog.md has no generated section markers".to_string());
    };
    let current = &doc[begin..end + END.len()];
    if current == generated {
        return Ok(());
    }
    if std::env::var("PG_ACCEPT").as_deref() == Ok("1") {
        let updated = format!("{}{generated}{}", &doc[..begin], &doc[end + END.len()..]);
        std::fs::write(&path, updated).unwrap();
        return Ok(());
    }
    Err("docs/catalog.md is stale: its table is not today's result \
         (PG_ACCEPT=1 cargo test -p pg-cli --test labelled_set rewrites it)"
        .to_string())
}

#[test]
fn maintainers_expectations_hold() {
    let rows = rows();
    let sources = sources(&rows);
    let outcomes: Vec<Outcome> = rows
        .iter()
        .map(|r| {
            if r.positive() {
                positive(r)
            } else {
                negative(r)
            }
        })
        .collect();

    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let hold = count(|o| matches!(o, Outcome::Hold(_)));
    let partial = count(|o| matches!(o, Outcome::Partial(_)));
    let missed = count(|o| matches!(o, Outcome::Miss(_)));
    let clean = count(|o| matches!(o, Outcome::Clean));
    let warned = count(|o| matches!(o, Outcome::Warned(_)));
    let false_alarms = count(|o| matches!(o, Outcome::FalseAlarm(_)));
    let positives = rows.iter().filter(|r| r.positive()).count();
    let negatives = rows.len() - positives;
    let tally = format!(
        "{}/{} maintainer expectations hold ({partial} partial, {false_alarms} false alarms)",
        hold + clean + warned,
        rows.len()
    );
    let detail = format!(
        "positives: {hold} hold, {partial} partial, {missed} missed of {positives}; \
         negatives: {clean} clean, {warned} warned, {false_alarms} false alarms of {negatives}"
    );

    // Straight to stderr, past the test harness's capture, so CI logs show the tally and misses.
    let mut err = std::io::stderr();
    for (r, o) in rows.iter().zip(&outcomes) {
        if matches!(o, Outcome::Miss(_) | Outcome::FalseAlarm(_)) {
            let _ = writeln!(
                err,
                "{}: {} {} ({}), maintainers: {}",
                result_text(o).replace("**", ""),
                r.project(),
                r.workload().escape_debug(),
                r.component,
                r.label
            );
        }
    }
    let _ = writeln!(err, "{tally}\n{detail}");

    let doc = check_doc(&table(
        &rows,
        &outcomes,
        &sources,
        &format!("{tally}. {detail}."),
    ));
    let recognised = (hold + partial) as f64 / positives as f64;
    let mut failures = Vec::new();
    if false_alarms > 0 {
        failures.push(format!("{false_alarms} false alarms"));
    }
    if recognised < REQUIRED_SHARE {
        failures.push(format!(
            "{:.1}% of positives recognised with a system class, {:.0}% required",
            recognised * 100.0,
            REQUIRED_SHARE * 100.0
        ));
    }
    if let Err(e) = doc {
        failures.push(e);
    }
    assert!(failures.is_empty(), "{tally}: {}", failures.join("; "));
}
