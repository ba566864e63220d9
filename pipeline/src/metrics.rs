//! What an operator can see: Prometheus counters and histograms
//! (prometheus-client), served with a health check on `metrics.listen`.
//!
//! `GET /metrics` answers the Prometheus text format; `GET /health`
//! answers `{"status":"ok",…}` with the pipeline and mapping in use. Names
//! carry the `mapwright_` prefix; counters end in `_total`, latencies are
//! seconds. Nothing here holds a secret: labels are fixed words.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `result="ok"` or `result="failed"` of a hot reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `ok` or `failed`.
    pub result: &'static str,
}

/// The pipeline's counters, shared by every task.
pub struct Metrics {
    registry: Registry,
    /// Records read from the source (readable or not).
    pub records_in: Counter,
    /// Records delivered to the sink.
    pub records_out: Counter,
    /// Records dropped by the mapping's `filter:`.
    pub filtered: Counter,
    /// Records that failed (mapping, validation, unreadable, rejected by the sink).
    pub failed: Counter,
    /// Records skipped because the same key and content were delivered before.
    pub duplicates: Counter,
    /// Sink requests retried.
    pub retries: Counter,
    /// Dead-letter lines written.
    pub dead_letters: Counter,
    /// Disagreements between sources reported as drift.
    pub conflicts: Counter,
    /// Checks that failed with `severity: warn`.
    pub warnings: Counter,
    /// Hot reloads by result.
    pub reloads: Family<ReloadLabels, Counter>,
    /// Payloads accepted and not yet fully processed.
    pub inbox: Gauge,
    /// Time to deliver one batch (or one HTTP record) to the sink, seconds.
    pub sink_latency: Histogram,
    /// Time to map one record, seconds.
    pub mapping_latency: Histogram,
    /// What `/health` shows besides the status.
    health: Mutex<Health>,
}

#[derive(Clone, Default)]
struct Health {
    pipeline: String,
    mapping: String,
    hash: String,
}

impl Metrics {
    /// Fresh counters for the named pipeline.
    pub fn new(pipeline: &str) -> Metrics {
        let mut registry = Registry::with_prefix("mapwright");
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let records_in = counter(&mut registry, "records_in", "Records read from the source");
        let records_out = counter(&mut registry, "records_out", "Records delivered to the sink");
        let filtered = counter(&mut registry, "records_filtered", "Records dropped by the mapping's filter");
        let failed = counter(&mut registry, "records_failed", "Records that failed and went to the dead letter");
        let duplicates =
            counter(&mut registry, "duplicates_skipped", "Records skipped: same key and content already delivered");
        let retries = counter(&mut registry, "sink_retries", "Sink requests retried");
        let dead_letters = counter(&mut registry, "dead_letters", "Dead-letter lines written");
        let conflicts = counter(&mut registry, "conflicts", "Disagreements between sources reported as drift");
        let warnings = counter(&mut registry, "warnings", "Checks failed with severity warn");
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register("reloads", "Hot reloads of the mapping, by result", reloads.clone());
        let inbox = Gauge::default();
        registry.register("inbox_pending", "Accepted payloads not yet fully processed", inbox.clone());
        let sink_latency = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        registry.register("sink_latency_seconds", "Time to deliver to the sink", sink_latency.clone());
        let mapping_latency = Histogram::new(exponential_buckets(0.000_002, 2.0, 16));
        registry.register("mapping_latency_seconds", "Time to map one record", mapping_latency.clone());
        for result in ["ok", "failed"] {
            let _ = reloads.get_or_create(&ReloadLabels { result });
        }
        Metrics {
            registry,
            records_in,
            records_out,
            filtered,
            failed,
            duplicates,
            retries,
            dead_letters,
            conflicts,
            warnings,
            reloads,
            inbox,
            sink_latency,
            mapping_latency,
            health: Mutex::new(Health { pipeline: pipeline.to_string(), ..Health::default() }),
        }
    }

    /// Counts a hot reload.
    pub fn reload(&self, ok: bool) {
        self.reloads.get_or_create(&ReloadLabels { result: if ok { "ok" } else { "failed" } }).inc();
    }

    /// The number of reloads with this result so far.
    pub fn reloads(&self, ok: bool) -> u64 {
        self.reloads.get_or_create(&ReloadLabels { result: if ok { "ok" } else { "failed" } }).get()
    }

    /// Names the mapping in use (shown by `/health`).
    pub fn set_mapping(&self, name: &str, hash: &str) {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        h.mapping = name.to_string();
        h.hash = hash.to_string();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The `/health` body.
    pub fn health(&self) -> String {
        let h = self.health.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut m = mapwright_dsl::Map::new();
        m.insert("status", mapwright_dsl::Value::str("ok"));
        m.insert("pipeline", mapwright_dsl::Value::str(&h.pipeline));
        m.insert("mapping", mapwright_dsl::Value::str(&h.mapping));
        m.insert("mapping_hash", mapwright_dsl::Value::str(&h.hash));
        mapwright_dsl::Value::object(m).to_json()
    }
}

/// Serves `/metrics` and `/health` on an already bound listener until
/// `stop` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    stop: crate::Stop,
) -> Result<(), std::io::Error> {
    use axum::http::header::CONTENT_TYPE;
    use axum::routing::get;
    let m1 = metrics.clone();
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = m1.clone();
                async move { ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], m.render()) }
            }),
        )
        .route(
            "/health",
            get(move || {
                let m = metrics.clone();
                async move { ([(CONTENT_TYPE, "application/json")], m.health()) }
            }),
        );
    crate::stop::serve_until(listener, app, stop, "metrics").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_every_metric() {
        let m = Metrics::new("p");
        m.records_in.inc_by(3);
        m.reload(false);
        m.sink_latency.observe(0.01);
        let text = m.render();
        for needle in [
            "mapwright_records_in_total 3",
            "mapwright_records_out_total 0",
            "mapwright_records_filtered_total 0",
            "mapwright_records_failed_total 0",
            "mapwright_duplicates_skipped_total 0",
            "mapwright_sink_retries_total 0",
            "mapwright_dead_letters_total 0",
            "mapwright_conflicts_total 0",
            "mapwright_reloads_total{result=\"failed\"} 1",
            "mapwright_reloads_total{result=\"ok\"} 0",
            "mapwright_sink_latency_seconds_count 1",
            "mapwright_mapping_latency_seconds_bucket",
            "mapwright_inbox_pending 0",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn health_is_json_with_the_mapping() {
        let m = Metrics::new("orders");
        m.set_mapping("shopify_order", "abc");
        let v = mapwright_dsl::Value::from_json(&m.health()).unwrap();
        assert_eq!(
            v.to_json(),
            r#"{"status":"ok","pipeline":"orders","mapping":"shopify_order","mapping_hash":"abc"}"#
        );
    }
}
