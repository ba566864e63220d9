//! `mapwright check FILE...`: load every file, print every diagnostic.
//!
//! A file whose top level has `pipeline:` is a pipeline file: it is checked
//! with the mapping it names (endpoints are not contacted; `run` does that
//! at start-up).

use std::path::PathBuf;

use mapwright_engine::Mapping;
use mapwright_engine::spec::yaml;
use mapwright_pipeline::Pipeline;

/// Arguments of `check`.
#[derive(clap::Args)]
pub struct Args {
    /// Mapping or pipeline files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Runs `check`; exit code 1 when any file has a problem.
pub fn run(args: Args) -> u8 {
    let mut failed = 0;
    for file in &args.files {
        let loaded = if is_pipeline(file) {
            Pipeline::check(file).map(|p| format!("pipeline {}, mapping {}", p.name, p.mapping.name()))
        } else {
            Mapping::load(file).map(|m| format!("mapping {}", m.name()))
        };
        match loaded {
            Ok(what) => println!("{}: ok ({what})", file.display()),
            Err(e) => {
                failed += 1;
                super::report(&e);
                let n = e.diagnostics().len();
                if n > 0 {
                    eprintln!("{}: {n} problem{}", file.display(), if n == 1 { "" } else { "s" });
                }
            }
        }
    }
    if failed > 0 { super::INVALID } else { super::OK }
}

/// Whether a file is a pipeline file (a top-level `pipeline:` key).
fn is_pipeline(path: &std::path::Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| yaml::parse_file(&mapwright_engine::diagnostic::SourceFile::new("", text)).ok())
        .and_then(|root| root.as_map().map(|m| m.iter().any(|(k, _)| k.text == "pipeline")))
        .unwrap_or(false)
}
