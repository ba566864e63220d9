//! Subcommands, one module each, plus the helpers they share.

pub mod check;
pub mod doc;
pub mod explain;
mod inputs;
pub mod map;
pub mod new;
mod parallel;
pub mod replay;
pub mod run;
pub mod schema;
pub mod state;
pub mod test;

use std::io::IsTerminal;

/// Whether to colour diagnostics and logs on standard error.
pub fn color() -> bool {
    colour_for(std::io::stderr().is_terminal())
}

/// Whether to colour what goes to a stream (`terminal`: whether it is
/// one), by one rule for every command: never when `NO_COLOR` is set to a
/// non-empty value (no-color.org), always when `CLICOLOR_FORCE` is set
/// (non-empty, not `0`: pagers and CI logs that show ANSI colours), else
/// on a terminal.
pub fn colour_for(terminal: bool) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) { false } else { set("CLICOLOR_FORCE") || terminal }
}

/// Exit code: every record mapped or filtered.
pub const OK: u8 = 0;
/// Exit code: the spec or the command line is invalid.
pub const INVALID: u8 = 1;
/// Exit code: some records failed.
pub const FAILED: u8 = 2;

/// Loads a mapping, printing its diagnostics on failure; `Err` holds the
/// exit code.
pub fn load(path: &std::path::Path) -> Result<mapwright_engine::Mapping, u8> {
    mapwright_engine::Mapping::load(path).map_err(|e| {
        report(&e);
        INVALID
    })
}

/// Parses `--format`, printing the problem; `Err` holds the exit code.
pub fn input_format(name: Option<&str>) -> Result<Option<mapwright_engine::input::Format>, u8> {
    inputs::format(name).map_err(|m| {
        eprintln!("error: {m}");
        INVALID
    })
}

/// Prints an engine error to standard error.
pub fn report(e: &mapwright_engine::Error) {
    eprint!("{}", e.render(color()));
}
