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
    let options = Options::default().watch(args.watch).progress(std::io::stderr().is_terminal());
    let pipeline = match Pipeline::load(&args.pipeline, &options).await {
        Ok(p) => p,
        Err(e) => {
            super::report(&e);
            return super::INVALID;
        }
    };
    let (handle, stop) = Stop::new();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("stopping: finishing the batch in flight");
        handle.stop();
    });
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

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
