//! The pipeline runtime (SPEC §5): a mapping between a source and a sink,
//! on tokio, with a durable state store, idempotent delivery, retries, hot
//! reload and metrics.

pub mod decode;
pub mod delivery;
pub mod http;
pub mod launch;
pub mod lines;
pub mod metrics;
pub mod nats;
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

    /// The next item of `rx`; `None` when the channel is closed or the stop
    /// fires first.
    pub async fn recv<T>(&self, rx: &mut tokio::sync::mpsc::Receiver<T>) -> Option<T> {
        tokio::select! {
            biased;
            _ = self.clone().wait() => None,
            item = rx.recv() => item,
        }
    }
}

/// How long the HTTP servers wait, after a stop, for requests in flight.
///
/// A graceful shutdown waits for every open request to finish, and a client
/// that stalls halfway through its request (a body that never ends) would
/// keep `mapwright run` from ever exiting on SIGTERM. Past this grace the
/// server stops waiting and the run ends; the connections still open die
/// with the runtime. A request cut off got no 2xx, so its sender sends it
/// again, and a payload stored just before the cut is a repeat that the
/// state store skips. Five seconds is also how long Shopify waits for a
/// webhook's answer.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves `app` on `listener` until `stop` fires, then lets requests in
/// flight finish for at most [`SHUTDOWN_GRACE`].
pub(crate) async fn serve_until(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    stop: Stop,
    what: &'static str,
) -> std::io::Result<()> {
    use std::future::IntoFuture as _;
    let graceful = axum::serve(listener, app).with_graceful_shutdown(stop.clone().wait()).into_future();
    tokio::select! {
        served = graceful => served,
        _ = async {
            stop.wait().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(server = what, grace = ?SHUTDOWN_GRACE, "requests still open after the stop were cut off");
            Ok(())
        }
    }
}

impl StopHandle {
    /// Fires the signal.
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}
