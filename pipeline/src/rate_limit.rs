//! `rate_limit: { per_second, burst }`: a token bucket per sink, for API
//! quotas (Shopify's leaky bucket, an ERP's requests per second). Every
//! request takes a token; the bucket holds at most `burst` and refills at
//! `per_second`, so over any long stretch the sink sees at most
//! `per_second` requests a second, and never more than `burst` at once. A
//! `Retry-After` answer still sets its own wait on top of this.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use mapwright_engine::spec::get;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;

use crate::Stop;
use crate::decode::Pipe;

/// The keys of `rate_limit:`.
pub(crate) static KEYS: Block = Block::new(
    "rate_limit",
    "A limit on the sink's requests: a token bucket of `burst` tokens refilled at `per_second`.",
    &[
        Key::new(
            "per_second",
            Type::NonNegative,
            "Requests a second, on average (a number above 0; `0.5` is one every two seconds).",
        )
        .required("`per_second: 40`"),
        Key::new(
            "burst",
            Type::Count { min: 1 },
            "Requests that may go at once after a quiet spell (default: `per_second`, at least 1).",
        ),
    ],
);

/// A decoded `rate_limit:`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RateSpec {
    pub per_second: f64,
    pub burst: u32,
}

impl RateSpec {
    pub(crate) fn decode(p: &mut Pipe, node: &Node) -> Option<RateSpec> {
        let entries = p.d.map(node, "`rate_limit:`")?;
        p.d.check_keys(entries, &KEYS, "in `rate_limit:`");
        let per_second = match get(entries, "per_second") {
            Some(n) => {
                let text = n.scalar_text().unwrap_or_default();
                match text.parse::<f64>() {
                    Ok(v) if v > 0.0 && v.is_finite() => Some(v),
                    _ => {
                        p.d.error(
                            mapwright_engine::diagnostic::SpecCode::BadValue,
                            n.loc,
                            format!("`per_second: {text}` must be a number above 0"),
                        );
                        None
                    }
                }
            }
            None => p.missing(node.loc, &KEYS, "per_second"),
        }?;
        let burst = match get(entries, "burst") {
            Some(n) => p.count(n, "burst")?,
            None => (per_second.ceil() as u32).max(1),
        };
        Some(RateSpec { per_second, burst })
    }
}

/// A token bucket.
pub(crate) struct RateLimit {
    spec: RateSpec,
    /// Tokens now, and when they were counted.
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimit {
    /// A full bucket.
    pub(crate) fn new(spec: RateSpec) -> RateLimit {
        RateLimit { spec, bucket: Mutex::new((f64::from(spec.burst), Instant::now())) }
    }

    /// Takes a token, waiting for one when the bucket is empty; false when
    /// the pipeline stops first.
    pub(crate) async fn acquire(&self, stop: &Stop) -> bool {
        loop {
            let wait = {
                let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let refilled = (b.0 + now.duration_since(b.1).as_secs_f64() * self.spec.per_second)
                    .min(f64::from(self.spec.burst));
                *b = (refilled, now);
                if refilled >= 1.0 {
                    b.0 -= 1.0;
                    return true;
                }
                Duration::from_secs_f64((1.0 - refilled) / self.spec.per_second)
            };
            if stop.sleep(wait).await {
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_bucket_lets_a_burst_through_then_holds_the_rate() {
        let (_h, stop) = Stop::new();
        let limit = RateLimit::new(RateSpec { per_second: 50.0, burst: 5 });
        let started = Instant::now();
        for _ in 0..5 {
            assert!(limit.acquire(&stop).await);
        }
        assert!(started.elapsed() < Duration::from_millis(20), "the burst goes at once");
        for _ in 0..10 {
            assert!(limit.acquire(&stop).await);
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(190) && took < Duration::from_secs(2), "10 more at 50/s: {took:?}");
    }
}
