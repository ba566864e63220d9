//! `mapwright run PIPELINE [--watch]`: run a pipeline (README "Pipeline file reference") until its
//! source is exhausted (file, stdin) or SIGINT/SIGTERM arrives.
//!
//! Exit codes: 0 when the run finished or was stopped cleanly (failed
//! records are in the dead letter, counted in the summary), 1 when the
//! pipeline cannot start (a spec problem, a port in use, a database that
//! does not answer — located in the pipeline file), 3 when a fatal error
//! stopped it (the state store or an output file cannot be written).

use std::io::IsTerminal;
use std::path::PathBuf;

use mapwright_pipeline::{Options, Pipeline, Stop};

/// Arguments of `run`.
#[derive(clap::Args)]
pub struct Args {
    /// The pipeline file.
    pipeline: PathBuf,
    /// Hot reload the mapping, its lookups, hooks and contract when they change.
    #[arg(long)]
    watch: bool,
    /// Start with a missing or empty state store even though the pipeline's outputs exist
    /// (every record not marked delivered is sent again, with the same idempotency keys).
    #[arg(long)]
    fresh_state: bool,
}

/// Exit code: a fatal error stopped a running pipeline.
const FATAL: u8 = 3;

/// Runs `run`.
pub fn run(args: Args) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return FATAL;
        }
    };
    runtime.block_on(run_async(args))
}

async fn run_async(args: Args) -> u8 {
    let options =
        Options::default().watch(args.watch).progress(std::io::stderr().is_terminal()).fresh_state(args.fresh_state);
    // Signals are caught from the start: a stop asked for while the
    // pipeline starts ends the run cleanly as soon as it has started.
    let (handle, stop) = Stop::new();
    let signals = Signals::new();
    tokio::spawn(async move {
        signals.recv().await;
        tracing::info!("stopping: finishing what is in flight");
        handle.stop();
    });
    let pipeline = match Pipeline::load(&args.pipeline, &options).await {
        Ok(p) => p,
        Err(e) => {
            super::report(&e);
            return super::INVALID;
        }
    };
    match pipeline.run(stop).await {
        Ok(summary) => {
            eprintln!("{}", summary.line());
            super::OK
        }
        Err(e) => {
            super::report(&e);
            FATAL
        }
    }
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for from when this is made.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals { term: signal(SignalKind::terminate()).ok(), int: signal(SignalKind::interrupt()).ok() }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The first of them.
    async fn recv(self) {
        #[cfg(unix)]
        {
            let (Some(mut term), Some(mut int)) = (self.term, self.int) else {
                let _ = tokio::signal::ctrl_c().await;
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
