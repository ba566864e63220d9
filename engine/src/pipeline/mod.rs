//! The pipeline runtime (SPEC §5): a mapping between a source and a sink,
//! on tokio, with a durable state store, idempotent delivery, retries, hot
//! reload and metrics.

pub mod postgres;
pub mod spec;
