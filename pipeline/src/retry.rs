//! One retry policy for every sink: the `retry:` keys, and the loop that
//! tries, waits and tries again.
//!
//! `retry: { attempts, backoff, max_backoff }` means the same for the HTTP,
//! NATS and PostgreSQL sinks: at most `attempts` tries in all, after waits
//! that start at `backoff` and double up to `max_backoff`, with equal
//! jitter (half of each wait fixed, half random) so that pipelines
//! restarting together do not hammer a recovering server in step. A sink
//! may name a wait itself (HTTP's `Retry-After`), capped the same way.
//! Every retry counts in `mapwright_sink_retries_total` and is logged
//! with the sink and the reason.
//!
//! Why a small module and not a crate such as `backon`: the loop must
//! watch the pipeline's [`Stop`] during each wait (a stop ends it at once,
//! and the record is neither delivered nor dead-lettered), honour a wait
//! the server asked for, and tell a refusal from a failure worth retrying;
//! with those three, a backoff crate would be reduced to the one line that
//! doubles a duration.

use std::future::Future;
use std::time::Duration;

use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;
use rand::Rng as _;

use crate::Stop;
use crate::decode::Pipe;
use crate::metrics::Metrics;

/// The keys of `retry:`.
pub(crate) static KEYS: Block = Block::new(
    "retry",
    "Retries of what may succeed later (no connection, a timeout, HTTP 408, 429 and 5xx, a lost database connection, an unacknowledged publish): exponential backoff with jitter.",
    &[
        Key::new("attempts", Type::Count { min: 1 }, "Tries in all, the first included (default 6)."),
        Key::new("backoff", Type::Duration, "The first wait (default 200ms), doubled each time."),
        Key::new("max_backoff", Type::Duration, "The longest wait (default 30s)."),
    ],
);

/// `retry: { attempts, backoff, max_backoff }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Retry {
    /// Tries in all, the first included (default 6).
    pub attempts: u32,
    /// The first wait (default 200ms), doubled each time.
    pub backoff: Duration,
    /// The longest wait (default 30s).
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry { attempts: 6, backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(30) }
    }
}

impl Retry {
    /// A policy of `attempts` tries, waits from `backoff` doubling up to
    /// `max_backoff`.
    #[cfg(test)]
    pub(crate) fn new(attempts: u32, backoff: Duration, max_backoff: Duration) -> Retry {
        Retry { attempts, backoff, max_backoff }
    }

    /// Decodes `retry:`; unset keys keep their defaults.
    pub(crate) fn decode(p: &mut Pipe, node: &Node) -> Option<Retry> {
        let entries = p.d.map(node, "`retry:`")?;
        p.d.check_keys(entries, &KEYS, "in `retry:`");
        let mut retry = Retry::default();
        if let Some(n) = mapwright_engine::spec::get(entries, "attempts") {
            retry.attempts = p.count(n, "attempts")?;
        }
        if let Some(d) = p.duration(entries, "backoff") {
            retry.backoff = d;
        }
        if let Some(d) = p.duration(entries, "max_backoff") {
            retry.max_backoff = d;
        }
        Some(retry)
    }

    /// The wait after try number `attempt` (1 for the first): the backoff
    /// doubled per try and capped, then equal jitter — at least half of it,
    /// so a retry never comes at once, and a random rest, so that clients
    /// do not retry in step.
    pub(crate) fn wait(&self, attempt: u32) -> Duration {
        let doubled = self.backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(30));
        let base = doubled.min(self.max_backoff);
        let half = base / 2;
        let jitter = rand::rng().random_range(0..=(base - half).as_nanos() as u64);
        half + Duration::from_nanos(jitter)
    }
}

/// What one try came to.
pub(crate) enum Try<T> {
    /// It worked.
    Done(T),
    /// It failed in a way a later try may not (a lost connection, a 503);
    /// `after` is a wait the other side asked for.
    Again { reason: String, after: Option<Duration> },
    /// The other side refused for good (a 4xx, a constraint violated).
    Refused(String),
}

/// What the tries came to.
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    /// A try worked.
    Done(T),
    /// The other side refused.
    Refused(String),
    /// Every try failed; the last reason.
    GaveUp(String),
    /// The pipeline is stopping.
    Stopped,
}

/// Why the tries ended without success.
#[derive(Debug)]
pub(crate) enum Ended {
    /// Every try failed; the last reason.
    GaveUp(String),
    /// The pipeline is stopping.
    Stopped,
}

/// The count of one run of tries, for loops that cannot be a closure (a
/// sink that needs `&mut self` in each try).
pub(crate) struct Tries<'a> {
    retry: &'a Retry,
    sink: &'a str,
    /// The try that just failed, from 1.
    n: u32,
}

impl<'a> Tries<'a> {
    /// Tries of `sink` under `retry`.
    pub(crate) fn new(retry: &'a Retry, sink: &'a str) -> Tries<'a> {
        Tries { retry, sink, n: 0 }
    }

    /// After a failed try: waits (`after`, when the other side asked for a
    /// wait, capped) and returns `None` to try again, or why to stop.
    pub(crate) async fn failed(
        &mut self,
        reason: String,
        after: Option<Duration>,
        stop: &Stop,
        metrics: &Metrics,
    ) -> Option<Ended> {
        self.n += 1;
        let attempts = self.retry.attempts.max(1);
        if self.n >= attempts {
            tracing::warn!(sink = self.sink, attempts, reason = %reason, "giving up");
            return Some(Ended::GaveUp(reason));
        }
        let wait = after.map_or_else(|| self.retry.wait(self.n), |w| w.min(self.retry.max_backoff));
        metrics.retries.inc();
        tracing::warn!(sink = self.sink, attempt = self.n, wait_ms = wait.as_millis() as u64, reason = %reason, "retrying");
        if stop.sleep(wait).await {
            return Some(Ended::Stopped);
        }
        None
    }
}

/// Runs `attempt` (called with the try's number, from 1) until it is done
/// or refused, the tries run out, or `stop` fires during a wait.
pub(crate) async fn run<T, F, Fut>(
    retry: &Retry,
    stop: &Stop,
    metrics: &Metrics,
    sink: &str,
    mut attempt: F,
) -> Outcome<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Try<T>>,
{
    let mut tries = Tries::new(retry, sink);
    loop {
        match attempt(tries.n + 1).await {
            Try::Done(value) => return Outcome::Done(value),
            Try::Refused(reason) => return Outcome::Refused(reason),
            Try::Again { reason, after } => match tries.failed(reason, after, stop, metrics).await {
                None => {}
                Some(Ended::GaveUp(reason)) => return Outcome::GaveUp(reason),
                Some(Ended::Stopped) => return Outcome::Stopped,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_jitter_and_stop_at_the_cap() {
        let retry = Retry { attempts: 10, backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(1) };
        for _ in 0..50 {
            let first = retry.wait(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = retry.wait(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
            let late = retry.wait(40);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1), "{late:?}");
        }
        let zero = Retry { attempts: 2, backoff: Duration::ZERO, max_backoff: Duration::ZERO };
        assert_eq!(zero.wait(1), Duration::ZERO);
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
    }

    #[test]
    fn tries_until_done_counting_retries() {
        let metrics = Metrics::new("p");
        let (_h, stop) = Stop::new();
        let quick = Retry::new(5, Duration::from_millis(1), Duration::from_millis(2));
        let outcome = block_on(run(&quick, &stop, &metrics, "t", |n| async move {
            if n < 3 { Try::Again { reason: format!("try {n}"), after: None } } else { Try::Done(n) }
        }));
        assert!(matches!(outcome, Outcome::Done(3)), "{outcome:?}");
        assert_eq!(metrics.retries.get(), 2);
    }

    #[test]
    fn a_refusal_ends_at_once_and_running_out_gives_the_last_reason() {
        let metrics = Metrics::new("p");
        let (_h, stop) = Stop::new();
        let quick = Retry::new(3, Duration::from_millis(1), Duration::from_millis(1));
        let refused = block_on(run(&quick, &stop, &metrics, "t", |_| async { Try::<()>::Refused("HTTP 400".into()) }));
        assert!(matches!(refused, Outcome::Refused(r) if r == "HTTP 400"));
        let gave_up = block_on(run(&quick, &stop, &metrics, "t", |n| async move {
            Try::<()>::Again { reason: format!("try {n}"), after: None }
        }));
        assert!(matches!(gave_up, Outcome::GaveUp(r) if r == "try 3"));
        assert_eq!(metrics.retries.get(), 2, "two waits between three tries");
    }

    #[test]
    fn a_stop_during_a_wait_ends_the_tries() {
        let metrics = Metrics::new("p");
        let (handle, stop) = Stop::new();
        handle.stop();
        let slow = Retry::new(3, Duration::from_secs(60), Duration::from_secs(60));
        let outcome = block_on(run(&slow, &stop, &metrics, "t", |_| async {
            Try::<()>::Again { reason: "down".into(), after: Some(Duration::from_secs(60)) }
        }));
        assert!(matches!(outcome, Outcome::Stopped));
    }
}
