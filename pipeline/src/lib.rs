//! mapwright's pipeline runtime: a mapping between a source and a sink, on
//! tokio, with a durable state store, idempotent delivery, retries, hot
//! reload and metrics — what `mapwright run` runs.
//!
//! The public surface is [`Pipeline`] (load a pipeline file with every
//! start-up check, then run it until its input ends or a [`Stop`] fires),
//! its [`Options`] and [`Summary`], [`StateReport`] (what a pipeline's
//! state store holds), and [`KEYS`], the table of the pipeline file's
//! keys. Everything else is the crate's own.
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use mapwright_pipeline::{Options, Pipeline, Stop};
//!
//! let dir = std::env::temp_dir().join(format!("mapwright-doc-lib-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("m.yaml"), "mapping: m\nfields:\n  sku: $.sku | upper\n").unwrap();
//! std::fs::write(dir.join("in.jsonl"), "{\"sku\": \"ab-1\"}\n").unwrap();
//! let file = "pipeline: p\nmapping: m.yaml\nsource: { kind: file, path: in.jsonl }\nsink: { kind: file, path: out.jsonl }\n";
//! std::fs::write(dir.join("p.yaml"), file).unwrap();
//!
//! let pipeline = Pipeline::load(&dir.join("p.yaml"), &Options::default()).await?;
//! let (_handle, stop) = Stop::new();
//! let summary = pipeline.run(stop).await?;
//! assert_eq!((summary.records_in, summary.delivered), (1, 1));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), mapwright_engine::Error>(())
//! # }).unwrap();
//! ```
//!
//! ## Where things are
//!
//! - `spec.rs` and `decode.rs`: the pipeline file — its top-level keys and
//!   the decoder every endpoint kind decodes with.
//! - `sources/` and `sinks/`: one file per `kind:`, with its keys, its
//!   decoding, its start-up checks and its I/O (`sinks/encode.rs`: how
//!   records become JSON Lines, JSON or CSV bytes); `sources/inbox.rs`
//!   feeds what the push sources stored.
//! - `clients/`: connecting to PostgreSQL and NATS, for both directions.
//! - `launch.rs` (start-up, tasks), `runtime.rs` (map, route, hand to
//!   the sinks, dead-letter, commit in order), `scheduler.rs` (one sink's
//!   queue: concurrency, batches, per-key order, tries), `retry.rs` (the
//!   one retry policy of every sink), `breaker.rs` (a circuit breaker per
//!   sink), `rate_limit.rs`, `delivery.rs` (idempotency keys),
//!   `secrets.rs` (every credential kept out of messages), `state.rs`
//!   (SQLite), `inspect.rs` (`mapwright state`), `reload.rs`,
//!   `metrics.rs`, `stop.rs`.
//!
//! It never depends on a terminal beyond the optional progress bar, and
//! the mapping itself stays in `mapwright-engine`: this crate only moves
//! records.
#![deny(missing_docs)]

mod breaker;
mod clients;
mod decode;
mod delivery;
mod inspect;
mod launch;
mod metrics;
mod rate_limit;
mod reload;
mod retry;
mod runtime;
mod scheduler;
mod secrets;
mod sinks;
mod sources;
mod spec;
mod state;
mod stop;
#[cfg(test)]
mod tests;

pub use inspect::StateReport;
pub use launch::{Checked, Options, Pipeline, Summary};
pub use mapwright_engine::Error;
pub use stop::{Stop, StopHandle};

/// The table of the pipeline file's keys (every block, every source and
/// sink kind): what the decoder accepts, what `mapwright schema pipeline`
/// and the README's reference describe.
///
/// ```
/// use mapwright_engine::spec::keys::json_schema;
///
/// let schema = json_schema(mapwright_pipeline::KEYS, "pipeline", "A pipeline file.").to_json();
/// assert!(schema.contains("\"source_http\""));
/// ```
pub static KEYS: &mapwright_engine::spec::keys::Block = &spec::PIPELINE;
