//! The metrics: one gauge series per finding, and what an operator needs to trust them (are
//! the watches synced, how many objects, when was the last evaluation).
//!
//! Everything is encoded by one prometheus-client [`Collector`] from a [`State`] that each
//! evaluation replaces as a whole, so a scrape never sees half of an evaluation, a fixed
//! workload's series is gone from the next scrape on, and series come out sorted (stable
//! output, and diffs of two scrapes read well).

use pg_cluster::{KindStatus, WatchState};
use pg_model::Finding;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

/// Every series name starts with this.
const PREFIX: &str = "priorityguard";

/// The two text formats Prometheus scrapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The classic text exposition format, version 0.0.4 (what `curl` gets).
    Text,
    /// OpenMetrics 1.0 text, for scrapers that ask for it in `Accept` (Prometheus does).
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The labels of `priorityguard_findings`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct FindingLabels {
    check: String,
    severity: String,
    /// Empty for cluster-scoped objects (PriorityClasses).
    namespace: String,
    kind: String,
    name: String,
}

impl From<&Finding> for FindingLabels {
    fn from(f: &Finding) -> Self {
        FindingLabels {
            check: f.check.as_str().to_string(),
            severity: f.severity.as_str().to_string(),
            namespace: f.object.namespace.clone().unwrap_or_default(),
            kind: f.object.kind.clone(),
            name: f.object.name.clone(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

/// What the metrics show: replaced by each evaluation, updated by the watches.
#[derive(Debug, Default)]
struct State {
    /// Sorted, without duplicates (two findings of one check on one object are one series).
    findings: Vec<FindingLabels>,
    kinds: Vec<KindStatus>,
    evaluations: u64,
    last_evaluation: Option<SystemTime>,
    last_duration: Option<Duration>,
}

/// The metrics registry and the state it shows; shared by the evaluation loop and the HTTP
/// handlers.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    state: Arc<RwLock<State>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let state = Arc::new(RwLock::new(State::default()));
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register_collector(Box::new(StateCollector(Arc::clone(&state))));
        Metrics { registry, state }
    }
}

impl Metrics {
    /// Shows the watches' state (synced, errors, objects per kind).
    pub fn set_watches(&self, kinds: &[KindStatus]) {
        self.write().kinds = kinds.to_vec();
    }

    /// Replaces the findings by those of an evaluation that ended `at` and took `took`.
    pub fn record_evaluation(&self, findings: &[Finding], at: SystemTime, took: Duration) {
        let mut series: Vec<FindingLabels> = findings.iter().map(FindingLabels::from).collect();
        series.sort_unstable();
        series.dedup();
        let mut state = self.write();
        state.findings = series;
        state.evaluations += 1;
        state.last_evaluation = Some(at);
        state.last_duration = Some(took);
    }

    /// The exposition of every series, in `format`.
    pub fn encode(&self, format: Format) -> String {
        let mut out = String::new();
        let written = match format {
            Format::Text => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)
            }
        };
        // Writing to a String cannot fail, and the collector only fails when the writer does.
        written.expect("encoding metrics into a String");
        out
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves a State that is still whole.
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug)]
struct StateCollector(Arc<RwLock<State>>);

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let state = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let served = || {
            state
                .kinds
                .iter()
                .filter(|k| k.state != WatchState::NotServed)
        };

        let mut findings = encoder.encode_descriptor(
            "findings",
            "One series per finding of the last evaluation (value 1): the same checks, catalog and policy as `priorityguard audit --cluster`. A fixed object's series disappears at the next evaluation. namespace is empty for cluster-scoped objects.",
            None,
            MetricType::Gauge,
        )?;
        for labels in &state.findings {
            ConstGauge::new(1).encode(findings.encode_family(labels)?)?;
        }

        let mut objects = encoder.encode_descriptor(
            "objects",
            "Objects of each kind that the watches hold (PriorityClasses, ResourceQuotas, workloads, pods).",
            None,
            MetricType::Gauge,
        )?;
        for k in served() {
            let count = i64::try_from(k.objects).unwrap_or(i64::MAX);
            ConstGauge::new(count).encode(objects.encode_family(&KindLabel { kind: k.kind })?)?;
        }

        let mut synced = encoder.encode_descriptor(
            "watch_synced",
            "1 when the watch of this kind has its complete list and follows changes; 0 while it lists (at start, or again after the server answered 410 Gone). Kinds the server does not serve are left out.",
            None,
            MetricType::Gauge,
        )?;
        for k in served() {
            let value = i64::from(k.state == WatchState::Synced);
            ConstGauge::new(value).encode(synced.encode_family(&KindLabel { kind: k.kind })?)?;
        }

        let mut errors = encoder.encode_descriptor(
            "watch_errors",
            "Failed list or watch requests of this kind (each is retried with backoff; the reason is logged on stderr).",
            None,
            MetricType::Counter,
        )?;
        for k in served() {
            let counter = ConstCounter::new(k.errors);
            counter.encode(errors.encode_family(&KindLabel { kind: k.kind })?)?;
        }

        ConstCounter::new(state.evaluations).encode(encoder.encode_descriptor(
            "evaluations",
            "Audits run over the watched objects: one after the initial lists, then one per burst of changes.",
            None,
            MetricType::Counter,
        )?)?;

        if let Some(at) = state.last_evaluation {
            let seconds = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            ConstGauge::new(seconds).encode(encoder.encode_descriptor(
                "last_evaluation_timestamp",
                "When the last evaluation ended (Unix time). Evaluations run only when objects change.",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?)?;
        }
        if let Some(took) = state.last_duration {
            ConstGauge::new(took.as_secs_f64()).encode(encoder.encode_descriptor(
                "last_evaluation_duration",
                "How long the last evaluation took.",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?)?;
        }

        let mut build = encoder.encode_descriptor(
            "build_info",
            "The priorityguard version serving these metrics (value 1).",
            None,
            MetricType::Gauge,
        )?;
        let version = VersionLabel {
            version: env!("CARGO_PKG_VERSION"),
        };
        ConstGauge::new(1).encode(build.encode_family(&version)?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_model::{CheckId, ObjectRef, Severity};

    fn finding(
        check: CheckId,
        severity: Severity,
        ns: Option<&str>,
        kind: &str,
        name: &str,
    ) -> Finding {
        Finding {
            check,
            severity,
            message: "ignored by the metrics".to_string(),
            object: ObjectRef {
                kind: kind.to_string(),
                namespace: ns.map(str::to_string),
                name: name.to_string(),
            },
            object_inferred: false,
            location: None,
            component: None,
            current_class: None,
            recommended_class: None,
            pods: Vec::new(),
            risk: None,
            cluster: None,
            managed_by: None,
        }
    }

    fn kind(kind: &'static str, state: WatchState, errors: u64, objects: usize) -> KindStatus {
        KindStatus {
            kind,
            resource: "ignored",
            state,
            errors,
            objects,
        }
    }

    fn sample() -> Metrics {
        let metrics = Metrics::default();
        metrics.set_watches(&[
            kind("PriorityClass", WatchState::Synced, 0, 3),
            kind("DaemonSet", WatchState::Synced, 2, 1),
            kind("CronJob", WatchState::NotServed, 0, 0),
            kind("Pod", WatchState::Relisting, 1, 12),
        ]);
        let findings = [
            finding(
                CheckId::CriticalWithoutPriority,
                Severity::Error,
                Some("kube-system"),
                "DaemonSet",
                "kube-multus-ds",
            ),
            finding(
                CheckId::InvalidPriorityClass,
                Severity::Error,
                None,
                "PriorityClass",
                "system-bad",
            ),
            // The same check twice on one object is one series.
            finding(
                CheckId::InvalidPriorityClass,
                Severity::Error,
                None,
                "PriorityClass",
                "system-bad",
            ),
            finding(
                CheckId::NoPriority,
                Severity::Info,
                Some("shop"),
                "Deployment",
                "web \"blue\"\\green",
            ),
        ];
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_760_000_000_250);
        metrics.record_evaluation(&findings, at, Duration::from_millis(12));
        metrics
    }

    /// The exposition, with the crate version replaced so a release does not change it.
    fn exposition(format: Format) -> String {
        let version = format!("version=\"{}\"", env!("CARGO_PKG_VERSION"));
        sample()
            .encode(format)
            .replace(&version, "version=\"VERSION\"")
    }

    #[test]
    fn text_exposition() {
        insta::assert_snapshot!(exposition(Format::Text));
    }

    #[test]
    fn openmetrics_exposition() {
        insta::assert_snapshot!(exposition(Format::OpenMetrics));
    }

    #[test]
    fn a_fixed_object_disappears_at_the_next_evaluation() {
        let metrics = sample();
        let series = "kube-multus-ds";
        assert!(metrics.encode(Format::Text).contains(series));
        metrics.record_evaluation(&[], SystemTime::now(), Duration::ZERO);
        let text = metrics.encode(Format::Text);
        assert!(!text.contains(series), "{text}");
        assert!(
            text.contains("priorityguard_evaluations_total 2\n"),
            "{text}"
        );
    }

    #[test]
    fn the_accept_header_picks_the_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Text);
        assert_eq!(Format::from_accept(None), Format::Text);
        assert_eq!(
            Format::Text.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
    }
}
