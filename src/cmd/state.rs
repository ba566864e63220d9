//! `mapwright state PIPELINE [--json]`: what the pipeline's state store
//! holds — records pending and since when, delivered marks per sink,
//! cursors, and each sink's breaker, queue and last success as the running
//! pipeline last wrote them. Safe while the pipeline runs.

use std::path::PathBuf;

use mapwright_pipeline::StateReport;

/// Arguments of `state`.
#[derive(clap::Args)]
pub struct Args {
    /// The pipeline file.
    pipeline: PathBuf,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `state`; exit code 1 when the store cannot be read.
pub fn run(args: Args) -> u8 {
    match StateReport::of(&args.pipeline) {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.text());
            }
            super::OK
        }
        Err(e) => {
            super::report(&e);
            super::INVALID
        }
    }
}
