//! docs/comparison.md's priorityguard column is what priorityguard really reports: every row of
//! the table between the `comparison-table` markers is checked against `audit -o json` on its
//! corpus file (exactly one finding per flagged workload, none on the others) and against the
//! diff `fix` prints (exactly the flagged workloads' classes added, nothing else), its verdict
//! must be what the "should" column (the maintainers' own intent) asks for, and every corpus
//! file must have a row, so the table cannot drift.
//! The Polaris column is checked the same way against a real Polaris 10.2.2 (built by
//! scripts/peers) run on each corpus file.

mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What the priorityguard column says about one workload.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// `**flags** → `class``: an error `critical-without-priority` recommending `class`.
    Flags(String),
    /// `*ok* (`class`)`: a recognised critical component already under `class`, nothing reported.
    Ok(String),
}

#[derive(Debug)]
struct Row {
    file: String,
    /// The "should" column: `critical, missing`, `missing (cluster service)` or `clean`.
    should: String,
    kind: String,
    namespace: String,
    name: String,
    verdict: Verdict,
    /// The Polaris column's cell, verbatim.
    polaris: String,
}

/// The text of every backtick span in `cell`, in order.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn parse_table(doc: &str) -> Vec<Row> {
    let begin = doc
        .find("<!-- comparison-table: begin -->")
        .expect("docs/comparison.md has the comparison-table begin marker");
    let end = doc
        .find("<!-- comparison-table: end -->")
        .expect("docs/comparison.md has the comparison-table end marker");
    let mut lines = doc[begin..end]
        .lines()
        .skip(1)
        .filter(|l| l.starts_with('|'));
    let split = |l: &str| -> Vec<String> {
        l.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let header = split(lines.next().expect("table header"));
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name:?} in {header:?}"))
    };
    let (c_file, c_workload, c_should, c_pg) = (
        col("file"),
        col("workload"),
        col("should"),
        col("priorityguard"),
    );
    let c_polaris = col(POLARIS_COLUMN);
    lines
        .filter(|l| !l.starts_with("|---"))
        .map(|l| {
            let cells = split(l);
            assert_eq!(
                cells.len(),
                header.len(),
                "row {l:?} has {} cells",
                cells.len()
            );
            let file = code_spans(&cells[c_file])[0].to_string();
            let workload = &cells[c_workload];
            let kind = workload.split_whitespace().next().unwrap().to_string();
            let (namespace, name) = code_spans(workload)[0]
                .split_once('/')
                .unwrap_or_else(|| panic!("workload {workload:?} is Kind `namespace/name`"));
            let pg = &cells[c_pg];
            let class = code_spans(pg)
                .first()
                .unwrap_or_else(|| panic!("priorityguard cell {pg:?} names a class"))
                .to_string();
            let verdict = if pg.starts_with("**flags** →") {
                Verdict::Flags(class)
            } else if pg.starts_with("*ok* (") {
                Verdict::Ok(class)
            } else {
                panic!(
                    "priorityguard cell {pg:?} is neither **flags** → `class` nor *ok* (`class`)"
                )
            };
            Row {
                file,
                should: cells[c_should].clone(),
                kind,
                namespace: namespace.to_string(),
                name: name.to_string(),
                verdict,
                polaris: cells[c_polaris].clone(),
            }
        })
        .collect()
}

/// Every manifest and template of the corpus, relative to it (chart values are not workloads).
fn corpus_files(dir: &Path, rel: &str, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if entry.file_type().unwrap().is_dir() {
            corpus_files(&entry.path(), &rel, out);
        } else if (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".j2"))
            && name != "values.yaml"
            && name != "Chart.yaml"
        {
            out.insert(rel);
        }
    }
}

fn same_object(v: &serde_json::Value, row: &Row) -> bool {
    v["kind"] == row.kind.as_str()
        && v["namespace"].as_str().unwrap_or("") == row.namespace
        && v["name"] == row.name.as_str()
}

#[test]
fn comparison_table_priorityguard_column_matches_real_runs() {
    let doc = std::fs::read_to_string(repo_root().join("docs/comparison.md")).unwrap();
    let rows = parse_table(&doc);

    let mut files = BTreeSet::new();
    corpus_files(&repo_root().join("testdata/upstream"), "", &mut files);
    let in_table: BTreeSet<String> = rows.iter().map(|r| r.file.clone()).collect();
    assert_eq!(
        in_table, files,
        "docs/comparison.md's table must have a row for every corpus file, and no other"
    );

    let mut by_file: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for row in &rows {
        by_file.entry(row.file.as_str()).or_default().push(row);
    }
    for (file, rows) in by_file {
        let out = priorityguard(&["audit", "-o", "json", &upstream(file)]);
        let report = json(&out);
        let flagged = rows.iter().any(|r| matches!(r.verdict, Verdict::Flags(_)));
        assert_eq!(
            out.status.code(),
            Some(if flagged { 1 } else { 0 }),
            "{file}: exit code; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let findings = report["findings"].as_array().unwrap();
        let components = report["components"].as_array().unwrap();
        for &row in &rows {
            // The verdict the maintainers' intent asks for: a missing class is flagged with the
            // class of its tier, a clean workload is left alone.
            let wanted = match row.should.as_str() {
                "critical, missing" => Some("system-node-critical"),
                "missing (cluster service)" => Some("system-cluster-critical"),
                "clean" => None,
                other => panic!("{file}: {row:?}: unknown \"should\" value {other:?}"),
            };
            let got = match &row.verdict {
                Verdict::Flags(class) => Some(class.as_str()),
                Verdict::Ok(_) => None,
            };
            assert_eq!(
                got, wanted,
                "{file}: {row:?}: the priorityguard column contradicts the should column"
            );
            let on_row: Vec<&serde_json::Value> = findings
                .iter()
                .filter(|f| same_object(&f["object"], row))
                .collect();
            let component = components
                .iter()
                .find(|c| same_object(&c["object"], row))
                .unwrap_or_else(|| {
                    panic!(
                        "{file}: {row:?} is not recognised as a critical component: {components:#?}"
                    )
                });
            match &row.verdict {
                Verdict::Flags(class) => {
                    let [f] = on_row.as_slice() else {
                        panic!("{file}: {row:?} wants exactly one finding, got {on_row:#?}")
                    };
                    assert_eq!(f["check"], "critical-without-priority", "{file}: {row:?}");
                    assert_eq!(f["severity"], "error", "{file}: {row:?}");
                    assert_eq!(f["recommended_class"], class.as_str(), "{file}: {row:?}");
                    assert_eq!(component["protected"], false, "{file}: {row:?}");
                }
                Verdict::Ok(class) => {
                    assert!(
                        on_row.is_empty(),
                        "{file}: {row:?} should be clean, got {on_row:#?}"
                    );
                    assert_eq!(
                        component["class"]["name"],
                        class.as_str(),
                        "{file}: {row:?}"
                    );
                    assert_eq!(component["protected"], true, "{file}: {row:?}");
                }
            }
        }
        // "Can fix": `fix FILE` prints a diff whose added lines are exactly one
        // `priorityClassName: <recommended class>` per flagged workload, and nothing else.
        let fixed = priorityguard(&["fix", &upstream(file)]);
        let diff = String::from_utf8_lossy(&fixed.stdout);
        let mut added: Vec<String> = diff
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .map(|l| l[1..].trim().to_string())
            .collect();
        let mut expected: Vec<String> = rows
            .iter()
            .filter_map(|r| match &r.verdict {
                Verdict::Flags(class) => Some(format!("priorityClassName: {class}")),
                Verdict::Ok(_) => None,
            })
            .collect();
        added.sort();
        expected.sort();
        assert_eq!(added, expected, "{file}: lines `fix` adds:\n{diff}");
        // Nothing reported beyond the table's rows.
        for f in findings {
            assert!(
                rows.iter().any(|r| same_object(&f["object"], r)),
                "{file}: finding on a workload the table does not list: {f:#?}"
            );
        }
    }
}

const POLARIS_COLUMN: &str = "Polaris 10.2.2";

/// Polaris 10.2.2 as scripts/peers builds it, or `None` (after a SKIPPED line) outside CI.
fn polaris() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    let path = home.join(".cache/priorityguard/peers/polaris-10.2.2/bin/polaris");
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} not found and CI=true; run scripts/peers polaris",
            path.display()
        );
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: Polaris not found at {}; run scripts/peers polaris",
        path.display()
    );
    None
}

/// What the Polaris column must say about `row`, given `polaris audit --audit-path FILE --format
/// json` on its corpus file. Polaris walks only `.yml`/`.yaml` files and skips, with a warning, a
/// file its YAML decoder rejects.
fn polaris_cell(file: &str, out: &Output, row: &Row) -> String {
    if !(file.ends_with(".yaml") || file.ends_with(".yml")) {
        return "not read (it reads only `.yaml`/`.yml`)".to_string();
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{file}: Polaris' stdout is not JSON ({e}); stderr: {stderr}"));
    let result = report["Results"].as_array().and_then(|results| {
        results.iter().find(|r| {
            r["Kind"] == row.kind.as_str()
                && r["Namespace"] == row.namespace.as_str()
                && r["Name"] == row.name.as_str()
        })
    });
    let Some(result) = result else {
        assert!(
            stderr.contains("cannot add resource from YAML"),
            "{file}: Polaris neither reports {row:?} nor skips the file: {report:#}\n{stderr}"
        );
        return "file skipped (YAML error)".to_string();
    };
    let check = &result["PodResult"]["Results"]["priorityClassNotSet"];
    match check["Success"].as_bool() {
        Some(true) => "passes".to_string(),
        Some(false) => format!(
            "**fails** `priorityClassNotSet` ({})",
            check["Severity"].as_str().unwrap_or("?")
        ),
        None => panic!("{file}: no priorityClassNotSet result for {row:?}: {result:#}"),
    }
}

#[test]
fn comparison_table_polaris_column_matches_real_runs() {
    let Some(polaris) = polaris() else { return };
    let doc = std::fs::read_to_string(repo_root().join("docs/comparison.md")).unwrap();
    let rows = parse_table(&doc);
    let mut disagree = Vec::new();
    for row in &rows {
        let out = Command::new(&polaris)
            .args([
                "audit",
                "--format",
                "json",
                "--audit-path",
                &upstream(&row.file),
            ])
            .output()
            .expect("polaris runs");
        assert!(
            out.status.success(),
            "{}: polaris exit status {:?}; stderr: {}",
            row.file,
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        let want = polaris_cell(&row.file, &out, row);
        if row.polaris != want {
            disagree.push(format!(
                "{} {} {}/{}: the table says {:?}, Polaris {:?}",
                row.file, row.kind, row.namespace, row.name, row.polaris, want
            ));
        }
    }
    println!(
        "{}/{} rows of the Polaris column agree with real Polaris runs",
        rows.len() - disagree.len(),
        rows.len()
    );
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}
