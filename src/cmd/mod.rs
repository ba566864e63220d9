//! Subcommands, one module each, plus the helpers they share.

pub mod check;
pub mod doc;
pub mod explain;
mod inputs;
pub mod map;
pub mod new;
mod parallel;
pub mod replay;
pub mod schema;
pub mod test;

use std::io::IsTerminal;

/// Whether to colour diagnostics on standard error.
pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

/// Exit code: every record mapped or filtered.
pub const OK: u8 = 0;
/// Exit code: the spec or the command line is invalid.
pub const INVALID: u8 = 1;
/// Exit code: some records failed.
pub const FAILED: u8 = 2;

/// Prints an engine error to standard error.
pub fn report(e: &mapwright_engine::Error) {
    eprint!("{}", e.render(color()));
}
