//! What an operator can see: Prometheus counters, gauges and histograms
//! (prometheus-client), served with a health check on `metrics.listen`.
//!
//! `GET /metrics` answers the Prometheus text format; `GET /health`
//! answers `{"status":"ok",…}` with the pipeline and mapping in use, or
//! `"degraded"` with the sinks whose circuit breaker is open (since when,
//! the last error). Names carry the `mapwright_` prefix; counters end in
//! `_total`, latencies are seconds. Per-sink metrics carry a `sink` label
//! (`sink` for a single `sink:`, the name for each of `sinks:`). Nothing
//! here holds a secret: labels are fixed words and sink names.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::breaker::Status;

/// `result="ok"` or `result="failed"` of a hot reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReloadLabels {
    /// `ok` or `failed`.
    pub result: &'static str,
}

/// `sink="erp"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SinkLabels {
    /// The sink's name.
    pub sink: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 12))
}

/// The pipeline's counters, shared by every task.
pub(crate) struct Metrics {
    registry: Registry,
    /// Records read from the source (readable or not).
    pub records_in: Counter,
    /// Records delivered to every sink they were routed to.
    pub records_out: Counter,
    /// Records dropped by the mapping's `filter:` (or routed to no sink).
    pub filtered: Counter,
    /// Records that failed (mapping, validation, unreadable, refused by a sink).
    pub failed: Counter,
    /// Records skipped because the same key and content were delivered before.
    pub duplicates: Counter,
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
    /// Records accepted into the inbox and not yet fully processed.
    pub inbox_records: Gauge,
    /// Bytes of the payloads in the inbox.
    pub inbox_bytes: Gauge,
    /// Webhooks answered 503 because the inbox was full.
    pub refused_full: Counter,
    /// Seconds since the oldest record not yet delivered was read (0 when
    /// nothing waits): the pipeline's lag.
    pub oldest_pending: Gauge,
    /// Time to map one record, seconds.
    pub mapping_latency: Histogram,
    sink_delivered: Family<SinkLabels, Counter>,
    sink_retries: Family<SinkLabels, Counter>,
    sink_in_flight: Family<SinkLabels, Gauge>,
    sink_queued: Family<SinkLabels, Gauge>,
    sink_state: Family<SinkLabels, Gauge>,
    sink_last_success: Family<SinkLabels, Gauge>,
    sink_latency: Family<SinkLabels, Histogram>,
    sink_batch: Family<SinkLabels, Histogram>,
    /// What `/health` shows besides the status.
    health: Mutex<Health>,
}

#[derive(Clone, Default)]
struct Health {
    pipeline: String,
    mapping: String,
    hash: String,
    /// The sinks' breakers, read when `/health` is asked.
    breakers: Vec<(String, Arc<crate::breaker::Breaker>)>,
}

/// One sink's metrics: handles on the labelled families of [`Metrics`].
pub(crate) struct SinkMetrics {
    /// Records delivered.
    pub delivered: Counter,
    /// Tries retried.
    pub retries: Counter,
    /// Requests in flight.
    pub in_flight: Gauge,
    /// Records waiting for a request.
    pub queued: Gauge,
    /// 1 while the circuit breaker is open, else 0.
    pub state: Gauge,
    /// When the last request went through (Unix seconds).
    pub last_success: Gauge,
    /// Time of one try of one request, seconds.
    pub latency: Histogram,
    /// Records per request.
    pub batch: Histogram,
}

impl SinkMetrics {
    /// Metrics registered nowhere (tests).
    #[cfg(test)]
    pub(crate) fn detached() -> SinkMetrics {
        SinkMetrics {
            delivered: Counter::default(),
            retries: Counter::default(),
            in_flight: Gauge::default(),
            queued: Gauge::default(),
            state: Gauge::default(),
            last_success: Gauge::default(),
            latency: latency_histogram(),
            batch: batch_histogram(),
        }
    }

    /// A request of `records` records went through.
    pub(crate) fn delivered(&self, records: usize) {
        self.delivered.inc_by(records as u64);
        self.batch.observe(records as f64);
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.last_success.set(now as i64);
    }

    /// The breaker opened (`true`) or closed.
    pub(crate) fn set_state(&self, open: bool) {
        self.state.set(i64::from(open));
    }
}

impl Metrics {
    /// Fresh counters for the named pipeline.
    pub(crate) fn new(pipeline: &str) -> Metrics {
        let mut registry = Registry::with_prefix("mapwright");
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let records_in = counter(&mut registry, "records_in", "Records read from the source");
        let records_out = counter(&mut registry, "records_out", "Records delivered to every sink they were routed to");
        let filtered =
            counter(&mut registry, "records_filtered", "Records dropped by the mapping's filter or routed nowhere");
        let failed = counter(&mut registry, "records_failed", "Records that failed and went to the dead letter");
        let duplicates =
            counter(&mut registry, "duplicates_skipped", "Records skipped: same key and content already delivered");
        let dead_letters = counter(&mut registry, "dead_letters", "Dead-letter lines written");
        let conflicts = counter(&mut registry, "conflicts", "Disagreements between sources reported as drift");
        let warnings = counter(&mut registry, "warnings", "Checks failed with severity warn");
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register("reloads", "Hot reloads of the mapping, by result", reloads.clone());
        let inbox = Gauge::default();
        registry.register("inbox_pending", "Accepted payloads not yet fully processed", inbox.clone());
        let inbox_records = Gauge::default();
        registry.register("inbox_pending_records", "Accepted records not yet fully processed", inbox_records.clone());
        let refused_full =
            counter(&mut registry, "inbox_full_refusals", "Webhooks answered 503 because the inbox was full");
        let inbox_bytes = Gauge::default();
        registry.register(
            "inbox_pending_bytes",
            "Bytes of the accepted payloads not yet fully processed",
            inbox_bytes.clone(),
        );
        let oldest_pending = Gauge::default();
        registry.register(
            "oldest_pending_age_seconds",
            "Seconds since the oldest record not yet delivered was read",
            oldest_pending.clone(),
        );
        let mapping_latency = Histogram::new(exponential_buckets(0.000_002, 2.0, 16));
        registry.register("mapping_latency_seconds", "Time to map one record", mapping_latency.clone());
        for result in ["ok", "failed"] {
            let _ = reloads.get_or_create(&ReloadLabels { result });
        }
        let sink_delivered = Family::<SinkLabels, Counter>::default();
        registry.register("sink_delivered", "Records delivered, by sink", sink_delivered.clone());
        let sink_retries = Family::<SinkLabels, Counter>::default();
        registry.register("sink_retries", "Tries retried, by sink", sink_retries.clone());
        let sink_in_flight = Family::<SinkLabels, Gauge>::default();
        registry.register("sink_in_flight", "Requests in flight, by sink", sink_in_flight.clone());
        let sink_queued = Family::<SinkLabels, Gauge>::default();
        registry.register("sink_queued", "Records waiting for a request, by sink", sink_queued.clone());
        let sink_state = Family::<SinkLabels, Gauge>::default();
        registry.register("sink_state", "1 while the sink's circuit breaker is open, else 0", sink_state.clone());
        let sink_last_success = Family::<SinkLabels, Gauge>::default();
        registry.register(
            "sink_last_success_timestamp_seconds",
            "When a request to the sink last went through (Unix time)",
            sink_last_success.clone(),
        );
        let sink_latency =
            Family::<SinkLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("sink_latency_seconds", "Time of one try of one request to the sink", sink_latency.clone());
        let sink_batch = Family::<SinkLabels, Histogram>::new_with_constructor(batch_histogram as fn() -> Histogram);
        registry.register("sink_batch_records", "Records per request to the sink", sink_batch.clone());
        Metrics {
            registry,
            records_in,
            records_out,
            filtered,
            failed,
            duplicates,
            dead_letters,
            conflicts,
            warnings,
            reloads,
            inbox,
            inbox_records,
            inbox_bytes,
            refused_full,
            oldest_pending,
            mapping_latency,
            sink_delivered,
            sink_retries,
            sink_in_flight,
            sink_queued,
            sink_state,
            sink_last_success,
            sink_latency,
            sink_batch,
            health: Mutex::new(Health { pipeline: pipeline.to_string(), ..Health::default() }),
        }
    }

    /// The metrics of the sink called `name`.
    pub(crate) fn sink(&self, name: &str) -> SinkMetrics {
        let l = SinkLabels { sink: name.to_string() };
        SinkMetrics {
            delivered: self.sink_delivered.get_or_create(&l).clone(),
            retries: self.sink_retries.get_or_create(&l).clone(),
            in_flight: self.sink_in_flight.get_or_create(&l).clone(),
            queued: self.sink_queued.get_or_create(&l).clone(),
            state: self.sink_state.get_or_create(&l).clone(),
            last_success: self.sink_last_success.get_or_create(&l).clone(),
            latency: self.sink_latency.get_or_create(&l).clone(),
            batch: self.sink_batch.get_or_create(&l).clone(),
        }
    }

    /// Shows a sink's breaker in `/health`.
    pub(crate) fn watch_breaker(&self, name: &str, breaker: Arc<crate::breaker::Breaker>) {
        self.health.lock().unwrap_or_else(|p| p.into_inner()).breakers.push((name.to_string(), breaker));
    }

    /// Payloads came into the inbox (`sign` 1) or left it (-1).
    pub(crate) fn inbox_moved(&self, sign: i64, size: crate::state::InboxSize) {
        self.inbox.inc_by(sign * size.payloads as i64);
        self.inbox_records.inc_by(sign * size.records as i64);
        self.inbox_bytes.inc_by(sign * size.bytes as i64);
    }

    /// Counts a hot reload.
    pub(crate) fn reload(&self, ok: bool) {
        self.reloads.get_or_create(&ReloadLabels { result: if ok { "ok" } else { "failed" } }).inc();
    }

    /// The number of reloads with this result so far.
    pub(crate) fn reloads(&self, ok: bool) -> u64 {
        self.reloads.get_or_create(&ReloadLabels { result: if ok { "ok" } else { "failed" } }).get()
    }

    /// Names the mapping in use (shown by `/health`).
    pub(crate) fn set_mapping(&self, name: &str, hash: &str) {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        h.mapping = name.to_string();
        h.hash = hash.to_string();
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The `/health` body, and whether every sink is up.
    pub(crate) fn health(&self) -> (String, bool) {
        use mapwright_dsl::{Map, Value};
        let h = self.health.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut degraded = Vec::new();
        for (name, breaker) in &h.breakers {
            let Status { open, since, last_error } = breaker.status();
            if !open {
                continue;
            }
            let mut s = Map::new();
            s.insert("sink", Value::str(name));
            let since = since
                .and_then(|t| mapwright_dsl::jiff::Timestamp::try_from(t).ok())
                .map_or(Value::Null, Value::Timestamp);
            s.insert("since", since);
            s.insert("last_error", last_error.as_deref().map_or(Value::Null, Value::str));
            degraded.push(Value::object(s));
        }
        let ok = degraded.is_empty();
        let mut m = Map::new();
        m.insert("status", Value::str(if ok { "ok" } else { "degraded" }));
        m.insert("pipeline", Value::str(&h.pipeline));
        m.insert("mapping", Value::str(&h.mapping));
        m.insert("mapping_hash", Value::str(&h.hash));
        if !ok {
            m.insert("sinks", Value::array(degraded));
        }
        (Value::object(m).to_json(), ok)
    }
}

/// Serves `/metrics` and `/health` on an already bound listener until
/// `stop` fires. `/health` answers 200 with `"status": "degraded"` when a
/// sink is down: the pipeline itself is alive (holding records and
/// probing), and a liveness probe must not restart it for that.
pub(crate) async fn serve(
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
                async move { ([(CONTENT_TYPE, "application/json")], m.health().0) }
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
        let sink = m.sink("erp");
        sink.latency.observe(0.01);
        sink.delivered(2);
        let text = m.render();
        for needle in [
            "mapwright_records_in_total 3",
            "mapwright_records_out_total 0",
            "mapwright_records_filtered_total 0",
            "mapwright_records_failed_total 0",
            "mapwright_duplicates_skipped_total 0",
            "mapwright_dead_letters_total 0",
            "mapwright_conflicts_total 0",
            "mapwright_reloads_total{result=\"failed\"} 1",
            "mapwright_reloads_total{result=\"ok\"} 0",
            "mapwright_sink_latency_seconds_count{sink=\"erp\"} 1",
            "mapwright_sink_delivered_total{sink=\"erp\"} 2",
            "mapwright_sink_retries_total{sink=\"erp\"} 0",
            "mapwright_sink_state{sink=\"erp\"} 0",
            "mapwright_sink_batch_records_count{sink=\"erp\"} 1",
            "mapwright_mapping_latency_seconds_bucket",
            "mapwright_inbox_pending 0",
            "mapwright_oldest_pending_age_seconds 0",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn health_is_json_with_the_mapping() {
        let m = Metrics::new("orders");
        m.set_mapping("shopify_order", "abc");
        let (body, ok) = m.health();
        assert!(ok);
        assert_eq!(body, r#"{"status":"ok","pipeline":"orders","mapping":"shopify_order","mapping_hash":"abc"}"#);
    }
}
