//! `cue-bgp`: parse the command line, run it, map errors to exit codes.

mod cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cmd::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind::*;
            if matches!(
                e.kind(),
                DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line naming the argument, then where to look for help.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("error: bad arguments");
            eprintln!("{first}");
            eprintln!("(see cue-bgp --help)");
            return ExitCode::from(cmd::EXIT_USAGE);
        }
    };
    // The library's own diagnostics (sessions, NOTIFICATIONs, health
    // changes, RHI decisions) on standard error, when asked for with
    // CUE_LOG or RUST_LOG (`info`, `cue=debug`, ...). Off by default: what
    // they say is already printed as events.
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUE_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cue-bgp: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cmd::run(cli));
    // What is queued for standard output is written before the exit.
    cmd::output::drain();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cue-bgp: {e:#}");
            if e.downcast_ref::<cmd::UsageError>().is_some() {
                ExitCode::from(cmd::EXIT_USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
