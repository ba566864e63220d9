//! A circuit breaker per sink: when a sink fails again and again, stop
//! hammering it with one try per record and probe it instead.
//!
//! Closed, every request goes through. After `after` failed tries in a
//! row (transient failures: no connection, a timeout, 5xx) the breaker
//! opens: requests wait, and one probe request goes through per interval;
//! the interval starts at `retry.backoff` and doubles up to
//! `retry.max_backoff`. When a probe succeeds the breaker closes and every
//! waiting request goes on; when it fails the next probe waits longer. A
//! refusal (a 4xx, a row the database rejects) shows the sink is up: it
//! counts as a success here.
//!
//! Opening is logged at warn and closing at info, with the reason; the
//! state is in `/health` (`degraded`) and in `mapwright_sink_state`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;

use crate::Stop;
use crate::metrics::SinkMetrics;
use crate::retry::Retry;

/// What a request may do after [`Breaker::admit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    /// The breaker is closed.
    Normal,
    /// The breaker is open and this request is its probe.
    Probe,
}

/// The breaker's state, as `/health` and `mapwright state` show it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Status {
    /// Whether it is open.
    pub open: bool,
    /// When it opened (wall clock).
    pub since: Option<SystemTime>,
    /// The last failure's reason.
    pub last_error: Option<String>,
}

struct Inner {
    failures: u32,
    open_at: Option<(Instant, SystemTime)>,
    last_error: Option<String>,
    probing: bool,
    next_probe: Instant,
    probe_wait: Duration,
}

/// A sink's circuit breaker; shared by its requests.
pub(crate) struct Breaker {
    sink: String,
    after: u32,
    retry: Retry,
    inner: Mutex<Inner>,
    changed: Notify,
    metrics: Arc<SinkMetrics>,
}

impl Breaker {
    /// A closed breaker that opens after `after` failures in a row.
    pub(crate) fn new(sink: &str, after: u32, retry: Retry, metrics: Arc<SinkMetrics>) -> Breaker {
        Breaker {
            sink: sink.to_string(),
            after: after.max(1),
            retry,
            inner: Mutex::new(Inner {
                failures: 0,
                open_at: None,
                last_error: None,
                probing: false,
                next_probe: Instant::now(),
                probe_wait: retry.backoff,
            }),
            changed: Notify::new(),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a request may go: at once while closed; while open, until
    /// this request is the next probe. `None` when the pipeline stops.
    pub(crate) async fn admit(&self, stop: &Stop) -> Option<Admit> {
        loop {
            // Listening before looking: a change between the look and the
            // wait still wakes this request.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let wait = {
                let mut s = self.lock();
                if s.open_at.is_none() {
                    return Some(Admit::Normal);
                }
                let now = Instant::now();
                if !s.probing && now >= s.next_probe {
                    s.probing = true;
                    return Some(Admit::Probe);
                }
                if s.probing { Duration::from_secs(3600) } else { s.next_probe - now }
            };
            tokio::select! {
                biased;
                _ = stop.clone().wait() => return None,
                _ = changed => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// A try went through (delivered, or refused by a sink that is up).
    pub(crate) fn success(&self) {
        let mut s = self.lock();
        s.failures = 0;
        s.probing = false;
        if let Some((opened, _)) = s.open_at.take() {
            s.probe_wait = self.retry.backoff;
            tracing::info!(sink = %self.sink, open_for_ms = opened.elapsed().as_millis() as u64, "sink recovered: circuit breaker closed");
            self.metrics.set_state(false);
            drop(s);
            self.changed.notify_waiters();
        }
    }

    /// A try failed in a way a later one may not (`admit` said how it went).
    pub(crate) fn failure(&self, admit: Admit, reason: &str) {
        let mut s = self.lock();
        s.failures = s.failures.saturating_add(1);
        s.last_error = Some(reason.to_string());
        let now = Instant::now();
        match (s.open_at.is_some(), admit) {
            (true, Admit::Probe) => {
                s.probing = false;
                s.probe_wait = (s.probe_wait * 2).min(self.retry.max_backoff).max(Duration::from_millis(1));
                s.next_probe = now + s.probe_wait;
                tracing::debug!(sink = %self.sink, next_probe_ms = s.probe_wait.as_millis() as u64, reason, "probe failed");
            }
            (true, Admit::Normal) => {}
            (false, _) if s.failures >= self.after => {
                s.open_at = Some((now, SystemTime::now()));
                s.probe_wait = self.retry.backoff.max(Duration::from_millis(1));
                s.next_probe = now + s.probe_wait;
                tracing::warn!(
                    sink = %self.sink,
                    failures = s.failures,
                    reason,
                    "sink failing: circuit breaker open, probing instead of retrying every record"
                );
                self.metrics.set_state(true);
            }
            (false, _) => {}
        }
        drop(s);
        self.changed.notify_waiters();
    }

    /// The state, for `/health` and the state store.
    pub(crate) fn status(&self) -> Status {
        let s = self.lock();
        Status { open: s.open_at.is_some(), since: s.open_at.map(|(_, t)| t), last_error: s.last_error.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(after: u32) -> Breaker {
        let retry =
            Retry { backoff: Duration::from_millis(40), max_backoff: Duration::from_millis(80), ..Retry::default() };
        Breaker::new("erp", after, retry, Arc::new(SinkMetrics::detached()))
    }

    #[tokio::test]
    async fn it_opens_after_failures_in_a_row_and_lets_one_probe_through_per_interval() {
        let (_h, stop) = Stop::new();
        let b = breaker(3);
        for _ in 0..2 {
            assert_eq!(b.admit(&stop).await, Some(Admit::Normal));
            b.failure(Admit::Normal, "refused");
        }
        assert!(!b.status().open, "two failures are not enough");
        b.failure(Admit::Normal, "refused");
        assert!(b.status().open);
        let started = Instant::now();
        assert_eq!(b.admit(&stop).await, Some(Admit::Probe));
        assert!(started.elapsed() >= Duration::from_millis(35), "the first probe waits the backoff");
        // A second request waits while the probe is out.
        let second = tokio::time::timeout(Duration::from_millis(100), b.admit(&stop)).await;
        assert!(second.is_err(), "no second request while the probe is in flight");
        b.success();
        assert!(!b.status().open);
        assert_eq!(b.admit(&stop).await, Some(Admit::Normal));
    }

    #[tokio::test]
    async fn a_failed_probe_waits_longer_and_a_stop_ends_the_wait() {
        let (handle, stop) = Stop::new();
        let b = breaker(1);
        b.failure(Admit::Normal, "503");
        assert_eq!(b.admit(&stop).await, Some(Admit::Probe));
        b.failure(Admit::Probe, "503 again");
        let started = Instant::now();
        assert_eq!(b.admit(&stop).await, Some(Admit::Probe));
        assert!(started.elapsed() >= Duration::from_millis(75), "the wait doubled to the cap: {:?}", started.elapsed());
        assert_eq!(b.status().last_error.as_deref(), Some("503 again"));
        handle.stop();
        assert_eq!(b.admit(&stop).await, None);
    }
}
