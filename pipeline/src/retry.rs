//! One retry policy for every sink: the `retry:` keys, the waits between
//! tries, and when to stop trying.
//!
//! `retry: { backoff, max_backoff, max_elapsed, attempts, breaker_after }`
//! means the same for every sink. A transient failure (no connection, a
//! timeout, HTTP 408, 429 and 5xx, a lost database connection, a publish
//! not acknowledged) is tried again after a wait that starts at `backoff`
//! and doubles up to `max_backoff`, with equal jitter (half of each wait
//! fixed, half random) so that pipelines restarting together do not hammer
//! a recovering server in step; a sink may name a wait itself (HTTP's
//! `Retry-After`), capped the same way. It is tried for as long as
//! `max_elapsed` allows — by default until the pipeline stops — while the
//! record stays where its source keeps it (the inbox, the file, the
//! cursor, the stream): a transient failure never becomes a dead letter
//! unless `max_elapsed` or `attempts` says so. `breaker_after` failed
//! tries in a row open the sink's circuit breaker (`breaker.rs`). Every
//! retry counts in the sink's `mapwright_sink_retries_total` and is
//! logged.
//!
//! Why a small module and not a crate such as `backon`: the waits must
//! watch the pipeline's [`Stop`], honour a wait the server asked for, and
//! share the sink's breaker; with those, a backoff crate would be reduced
//! to the one line that doubles a duration.

use std::time::{Duration, Instant};

use mapwright_engine::spec::get;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;
use rand::Rng as _;

use crate::decode::Pipe;

/// The keys of `retry:`.
pub(crate) static KEYS: Block = Block::new(
    "retry",
    "Retries of what may succeed later (no connection, a timeout, HTTP 408, 429 and 5xx, a lost database connection, an unacknowledged publish): exponential backoff with jitter, by default until the pipeline stops; the records wait in their source meanwhile.",
    &[
        Key::new("backoff", Type::Duration, "The first wait (default 200ms), doubled each time."),
        Key::new(
            "max_backoff",
            Type::Duration,
            "The longest wait (default 30s); also the longest between two probes of an open circuit breaker.",
        ),
        Key::new(
            "max_elapsed",
            Type::Either(&[Type::Duration, Type::Words(&["forever"])]),
            "How long to keep trying one record before it goes to the dead letter (default `forever`).",
        ),
        Key::new(
            "attempts",
            Type::Count { min: 1 },
            "Tries in all, the first included, before the record goes to the dead letter (default: no limit).",
        ),
        Key::new(
            "breaker_after",
            Type::Count { min: 1 },
            "Failed tries in a row that open the sink's circuit breaker (default 5).",
        ),
    ],
);

/// `retry:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Retry {
    /// The first wait (default 200ms), doubled each time.
    pub backoff: Duration,
    /// The longest wait (default 30s).
    pub max_backoff: Duration,
    /// How long to keep trying one record (default: forever).
    pub max_elapsed: Option<Duration>,
    /// Tries in all (default: no limit).
    pub attempts: Option<u32>,
    /// Failed tries in a row that open the breaker (default 5).
    pub breaker_after: u32,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_elapsed: None,
            attempts: None,
            breaker_after: 5,
        }
    }
}

impl Retry {
    /// Decodes `retry:`; unset keys keep their defaults.
    pub(crate) fn decode(p: &mut Pipe, node: &Node) -> Option<Retry> {
        let entries = p.d.map(node, "`retry:`")?;
        p.d.check_keys(entries, &KEYS, "in `retry:`");
        let mut retry = Retry::default();
        if let Some(n) = get(entries, "attempts") {
            retry.attempts = Some(p.count(n, "attempts")?);
        }
        if let Some(n) = get(entries, "breaker_after") {
            retry.breaker_after = p.count(n, "breaker_after")?;
        }
        if let Some(d) = p.duration(entries, "backoff") {
            retry.backoff = d;
        }
        if let Some(d) = p.duration(entries, "max_backoff") {
            retry.max_backoff = d;
        }
        if let Some(n) = get(entries, "max_elapsed") {
            if n.scalar_text().as_deref() != Some("forever") {
                retry.max_elapsed = Some(p.duration(entries, "max_elapsed")?);
            }
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

/// The count of one run of tries of one request.
pub(crate) struct Tries<'a> {
    retry: &'a Retry,
    /// Tries that failed so far.
    pub failed: u32,
    started: Instant,
}

impl<'a> Tries<'a> {
    /// The first try is about to go.
    pub(crate) fn new(retry: &'a Retry) -> Tries<'a> {
        Tries { retry, failed: 0, started: Instant::now() }
    }

    /// After a transient failure: the wait before the next try (`after`,
    /// when the other side asked for one, capped), or `None` when the
    /// policy says to stop trying.
    pub(crate) fn next_wait(&mut self, after: Option<Duration>) -> Option<Duration> {
        self.failed += 1;
        if self.retry.attempts.is_some_and(|n| self.failed >= n) {
            return None;
        }
        if self.retry.max_elapsed.is_some_and(|max| self.started.elapsed() >= max) {
            return None;
        }
        Some(after.map_or_else(|| self.retry.wait(self.failed), |w| w.min(self.retry.max_backoff)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_jitter_and_stop_at_the_cap() {
        let retry =
            Retry { backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(1), ..Retry::default() };
        for _ in 0..50 {
            let first = retry.wait(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = retry.wait(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
            let late = retry.wait(40);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1), "{late:?}");
        }
        let zero = Retry { backoff: Duration::ZERO, max_backoff: Duration::ZERO, ..Retry::default() };
        assert_eq!(zero.wait(1), Duration::ZERO);
    }

    #[test]
    fn by_default_tries_never_end_and_attempts_or_max_elapsed_end_them() {
        let forever = Retry::default();
        let mut tries = Tries::new(&forever);
        for _ in 0..1000 {
            assert!(tries.next_wait(None).is_some());
        }
        let three = Retry { attempts: Some(3), ..Retry::default() };
        let mut tries = Tries::new(&three);
        assert!(tries.next_wait(None).is_some() && tries.next_wait(None).is_some());
        assert_eq!(tries.next_wait(None), None, "the third failure is the last");
        let brief = Retry { max_elapsed: Some(Duration::ZERO), ..Retry::default() };
        assert_eq!(Tries::new(&brief).next_wait(None), None);
        let capped = Retry { max_backoff: Duration::from_secs(2), ..Retry::default() };
        assert_eq!(
            Tries::new(&capped).next_wait(Some(Duration::from_secs(60))),
            Some(Duration::from_secs(2)),
            "Retry-After is capped"
        );
    }
}
