//! Stopping: the signal every task of a run watches, and HTTP servers that
//! end when it fires.
//!
//! A stop is a `watch` channel rather than a cancellation of tasks: each
//! task decides where it can stop without losing anything (a source
//! between two batches, the processor after its batch, a server after the
//! requests in flight), so a stop never leaves half a record anywhere.

use std::time::Duration;

/// A stop signal shared by every task: sources stop taking records,
/// servers shut down gracefully, the processor finishes its batch.
///
/// ```
/// use mapwright_pipeline::Stop;
///
/// let (handle, stop) = Stop::new();
/// assert!(!stop.is_stopped());
/// handle.stop();
/// assert!(stop.is_stopped());
/// ```
#[derive(Clone)]
pub struct Stop(tokio::sync::watch::Receiver<bool>);

/// Fires a [`Stop`].
///
/// ```
/// let (handle, stop) = mapwright_pipeline::Stop::new();
/// let other = stop.clone();
/// handle.stop();
/// assert!(other.is_stopped(), "every clone sees the stop");
/// ```
pub struct StopHandle(tokio::sync::watch::Sender<bool>);

impl Stop {
    /// A stop signal and the handle that fires it.
    ///
    /// ```
    /// let (_handle, stop) = mapwright_pipeline::Stop::new();
    /// assert!(!stop.is_stopped());
    /// ```
    pub fn new() -> (StopHandle, Stop) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (StopHandle(tx), Stop(rx))
    }

    /// Whether it fired.
    ///
    /// ```
    /// let (handle, stop) = mapwright_pipeline::Stop::new();
    /// drop(handle);
    /// assert!(!stop.is_stopped(), "a dropped handle is not a stop");
    /// ```
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until it fires (at once if it did).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (handle, stop) = mapwright_pipeline::Stop::new();
    /// handle.stop();
    /// stop.wait().await;
    /// # });
    /// ```
    pub async fn wait(mut self) {
        // An error means the handle is gone: nobody can stop us any more,
        // which is the same as stopping now.
        let _ = self.0.wait_for(|s| *s).await;
    }

    /// The next item of `rx`; `None` when the channel is closed or the stop
    /// fires first.
    pub(crate) async fn recv<T>(&self, rx: &mut tokio::sync::mpsc::Receiver<T>) -> Option<T> {
        tokio::select! {
            biased;
            _ = self.clone().wait() => None,
            item = rx.recv() => item,
        }
    }

    /// Sleeps for `wait` unless the stop fires first; true when it did.
    pub(crate) async fn sleep(&self, wait: Duration) -> bool {
        tokio::select! {
            biased;
            _ = self.clone().wait() => true,
            _ = tokio::time::sleep(wait) => false,
        }
    }
}

impl StopHandle {
    /// Fires the signal.
    ///
    /// ```
    /// let (handle, stop) = mapwright_pipeline::Stop::new();
    /// handle.stop();
    /// handle.stop(); // twice is the same as once
    /// assert!(stop.is_stopped());
    /// ```
    pub fn stop(&self) {
        let _ = self.0.send(true);
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
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
