//! SARIF 2.1.0, the format GitHub code scanning and other viewers ingest.
//!
//! Written with a handful of serde structs rather than the `serde-sarif` crate: we use a small
//! corner of the format, and that crate generates its types from the schema at build time
//! (pulling a code generator into every build) for an API of builders we would not need. The
//! output is checked against the official OASIS schema in the tests instead.

use crate::{INFORMATION_URI, RenderOptions, TOOL_NAME};
use pg_model::{
    CheckId, CheckInfo, ClusterSummary, Finding, InputProblem, ManagedBy, Report, Severity,
};
use serde::Serialize;
use std::fmt::Write as _;
use std::io::{self, Write};

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The base SARIF consumers resolve relative paths against: the checkout's root.
const SRCROOT: &str = "%SRCROOT%";

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
struct Run<'a> {
    tool: Tool<'a>,
    invocations: [Invocation; 1],
    results: Vec<SarifResult<'a>>,
    #[serde(skip_serializing_if = "RunProperties::is_empty")]
    properties: RunProperties<'a>,
}

/// A multi-cluster run's per-cluster summary (SARIF's property bag for the run).
#[derive(Serialize)]
struct RunProperties<'a> {
    clusters: &'a [ClusterSummary],
}

impl RunProperties<'_> {
    fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'a str,
    information_uri: &'static str,
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule<'a> {
    id: CheckId,
    name: String,
    short_description: Message<'a>,
    full_description: Message<'a>,
    help: Help,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Message<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

/// GitHub shows `tags` as labels on the alert and lets people filter by them.
#[derive(Serialize)]
struct RuleProperties {
    tags: [&'static str; 2],
}

/// Records whether every input could be read, and which could not: a clean SARIF log from a
/// run that skipped a broken file must not look like a clean bill of health.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: OwnedMessage,
}

#[derive(Serialize)]
struct OwnedMessage {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: CheckId,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    message: Message<'a>,
    locations: [Location; 1],
    partial_fingerprints: Fingerprints,
    #[serde(skip_serializing_if = "ResultProperties::is_empty")]
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<PhysicalLocation>,
    logical_locations: [LogicalLocation; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
}

/// The Kubernetes object, which is all a cluster finding has for a location.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    fully_qualified_name: String,
    kind: &'static str,
}

/// Our own key, not GitHub's `primaryLocationLineHash` (which the upload action computes from
/// the line's text and complains about when it differs); versioned so that a change of hash input
/// gets a new key instead of silently re-opening every alert.
#[derive(Serialize)]
struct Fingerprints {
    #[serde(rename = "priorityguardObject/v1")]
    object: String,
}

/// The finding's structured facts, for consumers that want more than the message.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    current_class: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommended_class: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<&'a str>,
    #[serde(skip_serializing_if = "is_zero")]
    pods: usize,
    /// The kubeconfig context and API server of a multi-cluster run.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a str>,
    /// The Helm release or GitOps object that applies the workload: where to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    managed_by: Option<&'a ManagedBy>,
}

impl ResultProperties<'_> {
    fn is_empty(&self) -> bool {
        self.current_class.is_none()
            && self.recommended_class.is_none()
            && self.component.is_none()
            && self.pods == 0
            && self.cluster.is_none()
            && self.managed_by.is_none()
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub(crate) fn render(
    report: &Report,
    checks: &[CheckInfo],
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let log = Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: TOOL_NAME,
                    version: opts.tool_version,
                    information_uri: INFORMATION_URI,
                    rules: checks.iter().map(rule).collect(),
                },
            },
            invocations: [invocation(&report.problems)],
            results: report.findings.iter().map(|f| result(f, checks)).collect(),
            properties: RunProperties {
                clusters: &report.clusters,
            },
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}

fn rule(check: &CheckInfo) -> Rule<'_> {
    let help = format!(
        "{}\n\nRun `priorityguard catalog --explain {}` for details.",
        check.explanation, check.id
    );
    Rule {
        id: check.id,
        name: pascal_case(check.id.as_str()),
        short_description: Message {
            text: &check.summary,
        },
        full_description: Message {
            text: &check.explanation,
        },
        help: Help {
            text: help.clone(),
            markdown: help,
        },
        default_configuration: Configuration {
            level: level(check.severity),
        },
        properties: RuleProperties {
            tags: ["kubernetes", "reliability"],
        },
    }
}

fn invocation(problems: &[InputProblem]) -> Invocation {
    Invocation {
        execution_successful: problems.iter().all(|p| p.skipped),
        tool_execution_notifications: problems
            .iter()
            .map(|p| Notification {
                level: if p.skipped { "note" } else { "error" },
                message: OwnedMessage {
                    text: format!("{}: {}", p.source, p.message),
                },
            })
            .collect(),
    }
}

fn result<'a>(finding: &'a Finding, checks: &[CheckInfo]) -> SarifResult<'a> {
    let object = finding.object.to_string();
    let physical_location = finding.location.as_ref().map(|l| {
        let (uri, uri_base_id) = artifact_uri(&l.file);
        PhysicalLocation {
            artifact_location: ArtifactLocation { uri, uri_base_id },
            // SARIF positions start at 1; a 0 would make the whole log invalid.
            region: Region {
                start_line: l.line.max(1),
                start_column: l.column.max(1),
            },
        }
    });
    let file = finding.location.as_ref().map_or("", |l| &l.file);
    let context = finding.cluster.as_ref().map(|c| c.context.as_str());
    SarifResult {
        rule_id: finding.check,
        rule_index: checks.iter().position(|c| c.id == finding.check),
        level: level(finding.severity),
        message: Message {
            text: &finding.message,
        },
        partial_fingerprints: Fingerprints {
            object: match context {
                // The same object in two clusters is two alerts.
                Some(context) => fingerprint(&[finding.check.as_str(), file, &object, context]),
                None => fingerprint(&[finding.check.as_str(), file, &object]),
            },
        },
        locations: [Location {
            physical_location,
            logical_locations: [LogicalLocation {
                fully_qualified_name: object,
                kind: "resource",
            }],
        }],
        properties: ResultProperties {
            current_class: finding.current_class.as_deref(),
            recommended_class: finding.recommended_class.as_deref(),
            component: finding.component.as_ref().map(|c| c.id.as_str()),
            pods: finding.pods.len(),
            cluster: context,
            server: finding.cluster.as_ref().map(|c| c.server.as_str()),
            managed_by: finding.managed_by.as_deref(),
        },
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// `critical-without-priority` -> `CriticalWithoutPriority`, SARIF's convention for rule names.
fn pascal_case(id: &str) -> String {
    id.split('-')
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
        })
        .collect()
}

/// The file as a URI reference: relative paths stay relative (with forward slashes) and are
/// resolved against `%SRCROOT%`, the way GitHub matches them to the checkout; absolute paths
/// become `file://` URIs.
fn artifact_uri(file: &str) -> (String, Option<&'static str>) {
    let path = file.replace('\\', "/");
    let bytes = path.as_bytes();
    if path.starts_with('/') {
        (format!("file://{}", percent_encode(&path)), None)
    } else if bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && &bytes[1..3] == b":/" {
        let (drive, rest) = path.split_at(2);
        (format!("file:///{drive}{}", percent_encode(rest)), None)
    } else {
        let relative = path.strip_prefix("./").unwrap_or(&path);
        (percent_encode(relative), Some(SRCROOT))
    }
}

/// Escapes everything but the characters a URI path may hold as they are. `:` is escaped too,
/// so a relative path's first segment is never read as a scheme.
fn percent_encode(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=@/".contains(&byte) {
            s.push(byte as char);
        } else {
            write!(s, "%{byte:02X}").unwrap();
        }
    }
    s
}

/// FNV-1a (64 bit) over the parts, NUL-separated: stable across Rust versions and platforms
/// (unlike `DefaultHasher`), and independent of line numbers, so an alert survives edits that
/// move the object within its file.
fn fingerprint(parts: &[&str]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // The NUL separator: hash ^ 0 == hash.
            hash = hash.wrapping_mul(PRIME);
        }
        for byte in part.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(
            pascal_case("critical-without-priority"),
            "CriticalWithoutPriority"
        );
        assert_eq!(pascal_case("no-priority"), "NoPriority");
    }

    #[test]
    fn relative_paths_stay_relative() {
        assert_eq!(
            artifact_uri("roles\\multus\\ds.yml.j2"),
            ("roles/multus/ds.yml.j2".to_string(), Some(SRCROOT))
        );
        assert_eq!(
            artifact_uri("./a b/c:d.yaml"),
            ("a%20b/c%3Ad.yaml".to_string(), Some(SRCROOT))
        );
    }

    #[test]
    fn absolute_paths_become_file_uris() {
        assert_eq!(
            artifact_uri("/srv/k8s/ds.yaml"),
            ("file:///srv/k8s/ds.yaml".to_string(), None)
        );
        assert_eq!(
            artifact_uri("C:\\k8s\\ds.yaml"),
            ("file:///C:/k8s/ds.yaml".to_string(), None)
        );
    }

    #[test]
    fn fingerprint_is_fnv1a() {
        // The FNV-1a reference value for "a".
        assert_eq!(fingerprint(&["a"]), "af63dc4c8601ec8c");
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
    }
}
