//! The `mapwright` command line.
//!
//! Each subcommand lives in its own module under `src/cmd/`; this file only
//! parses arguments and maps results to exit codes (README "Command line"): 0 when every
//! record mapped or was filtered, 1 when a spec or the command line is
//! invalid, 2 when some records failed.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// mimalloc: the mapping hot path allocates many small strings and objects;
// glibc malloc spent a quarter of the time there (perf, bench workload).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Declarative mapping and transform engine for commerce data.
#[derive(Parser)]
#[command(name = "mapwright", version, about, long_about = None)]
struct Cli {
    /// Log lines as text or as JSON objects (one per line, for log shippers).
    #[arg(long, global = true, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check mapping files and report every problem with its place.
    Check(cmd::check::Args),
    /// Map records from files or standard input to JSON Lines.
    Map(cmd::map::Args),
    /// Re-run the input of every dead-letter line through a (fixed) mapping.
    Replay(cmd::replay::Args),
    /// Show where every output field came from (source, expression, inputs read).
    Explain(cmd::explain::Args),
    /// Run the fixture tests declared in mappings (`tests:`); --update writes expect files.
    Test(cmd::test::Args),
    /// Print a mapping's data dictionary (Markdown or HTML).
    Doc(cmd::doc::Args),
    /// Run a pipeline (a mapping between a source and a sink) until its input ends or SIGINT/SIGTERM.
    Run(cmd::run::Args),
    /// Print the JSON Schema of mapping or pipeline files, for editors.
    Schema(cmd::schema::Args),
    /// Show what a pipeline's state store holds: pending records, delivered marks, cursors, sinks.
    State(cmd::state::Args),
    /// Scaffold a new mapping from a sample record.
    New(cmd::new::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs (hook `print`s among them) go to standard error; RUST_LOG tunes
    // them. A pipeline also says what it does (start, reloads, stop).
    let default = match cli.command {
        Command::Run(_) => "warn,mapwright=info,mapwright_engine=info",
        _ => "warn,mapwright::hook=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(cmd::color());
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let code = match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Map(args) => cmd::map::run(args),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Explain(args) => cmd::explain::run(args),
        Command::Test(args) => cmd::test::run(args),
        Command::Doc(args) => cmd::doc::run(args),
        Command::State(args) => cmd::state::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Schema(args) => cmd::schema::run(args),
        Command::New(args) => cmd::new::run(args),
    };
    ExitCode::from(code)
}
