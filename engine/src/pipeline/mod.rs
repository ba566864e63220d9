//! The pipeline runtime (SPEC §5): a mapping between a source and a sink,
//! on tokio, with a durable state store, idempotent delivery, retries, hot
//! reload and metrics.

pub mod decode;
pub mod delivery;
pub mod http;
pub mod launch;
pub mod lines;
pub mod metrics;
pub mod postgres;
pub mod reload;
pub mod runtime;
pub mod sources;
pub mod spec;
pub mod state;

/// A stop signal shared by every task: sources stop taking records,
/// servers shut down gracefully, the processor finishes its batch.
#[derive(Clone)]
pub struct Stop(tokio::sync::watch::Receiver<bool>);

/// Fires a [`Stop`].
pub struct StopHandle(tokio::sync::watch::Sender<bool>);

impl Stop {
    /// A stop signal and the handle that fires it.
    pub fn new() -> (StopHandle, Stop) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (StopHandle(tx), Stop(rx))
    }

    /// Whether it fired.
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until it fires (at once if it did).
    pub async fn wait(mut self) {
        // An error means the handle is gone: nobody can stop us any more,
        // which is the same as stopping now.
        let _ = self.0.wait_for(|s| *s).await;
    }
}

impl StopHandle {
    /// Fires the signal.
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}
