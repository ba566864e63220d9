//! `mapwright check FILE...`: load every file, print every diagnostic.

use std::path::PathBuf;

use mapwright_engine::Mapping;

/// Arguments of `check`.
#[derive(clap::Args)]
pub struct Args {
    /// Mapping files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Runs `check`; exit code 1 when any file has a problem.
pub fn run(args: Args) -> u8 {
    let mut failed = 0;
    for file in &args.files {
        match Mapping::load(file) {
            Ok(m) => println!("{}: ok (mapping {})", file.display(), m.name()),
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
    if failed > 0 {
        super::INVALID
    } else {
        super::OK
    }
}
