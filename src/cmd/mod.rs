//! The `cue-bgp` command line: one file per subcommand.

pub mod args;
pub mod check;
pub mod commands;
pub mod completions;
pub mod decode;
pub mod demo;
pub mod explain;
pub mod listen;
pub mod metrics;
pub mod output;
pub mod plot;
pub mod run;
pub mod scenario;
pub mod signals;
pub mod speak;
pub mod systemd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit status: bad arguments or input (nothing was sent).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: no peer reached Established within --wait-established.
pub const EXIT_NOT_ESTABLISHED: u8 = 3;

/// Events the command line buffers: a terminal or pipe slower than the
/// peer loses lines past this (said on standard error), never state.
pub const EVENT_BUFFER: usize = 1 << 16;

/// An error in what the user gave: exits with status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Bring up BGP sessions, advertise /32 and /128 VIPs, see what a router
/// sends, and health-check the backends behind the VIPs.
///
/// With no subcommand, dials each PEER (a pool of sessions sharing one RIB),
/// advertises the --advertise addresses (or the six sample addresses) until
/// SIGINT/SIGTERM or --for, then withdraws them, sends Cease / Administrative
/// Shutdown and prints a status table.
///
/// Exit status: 0 done, 1 runtime failure, 2 bad arguments, 3 no peer
/// reached ESTABLISHED within --wait-established.
#[derive(Debug, Parser)]
#[command(
    name = "cue-bgp",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  cue-bgp -6 ::1 -m 65001 127.0.0.1 127.0.0.1\n  cue-bgp --port 1179 -a 192.0.2.10,2001:db8::10 -m --for 30s 65001 10.0.0.1 127.0.0.1\n  cue-bgp listen --port 1179 65002 10.0.0.2\n  cue-bgp demo"
)]
pub struct Cli {
    /// Subcommand; without one, speak to the PEERs.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Speaker arguments.
    #[command(flatten)]
    pub speak: speak::SpeakArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Wait for peers to connect (passive side): print the routes they send
    /// and a table of them at exit.
    Listen(Box<listen::ListenArgs>),
    /// Run a speaker and a listener against each other on loopback, with no
    /// daemon: advertise, change attributes, withdraw, and show each step.
    Demo(demo::DemoArgs),
    /// Health-check the services of a JSON file without BGP: print state
    /// changes and a table of services and destinations (SIGHUP reloads).
    Check(check::CheckArgs),
    /// Test a router: many emulated peers and observers run a timeline
    /// from a TOML file; per-prefix latency through the router, limits
    /// checked (exit 0 held, 1 failed, 2 bad file).
    Scenario(scenario::ScenarioArgs),
    /// Explain BGP messages given as hex (arguments or standard input):
    /// every field, or the NOTIFICATION a malformed one would get.
    Decode(decode::DecodeArgs),
    /// Print a shell completion script (bash, zsh, fish)
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff): cue-bgp manpage > cue-bgp.1
    Manpage,
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Listen(a)) => listen::run(*a).await,
        Some(Command::Demo(a)) => demo::run(a).await,
        Some(Command::Check(a)) => check::run(a).await,
        Some(Command::Scenario(a)) => scenario::run(a).await,
        Some(Command::Decode(a)) => decode::run(a).await,
        Some(Command::Completions(a)) => completions::completions(a),
        Some(Command::Manpage) => completions::manpage(),
        None => speak::run(cli.speak).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn readme_loopback_example_parses() {
        let cli = Cli::try_parse_from([
            "cue-bgp",
            "-6",
            "::1",
            "-m",
            "65001",
            "127.0.0.1",
            "127.0.0.1",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.speak.as_number, Some(65001));
        assert!(cli.speak.multiprotocol);
        assert_eq!(cli.speak.router_id, Some(std::net::Ipv4Addr::LOCALHOST));
        assert_eq!(cli.speak.peers.len(), 1);
    }

    #[test]
    fn bad_arguments_are_refused() {
        for args in [
            &["cue-bgp", "0", "10.0.0.1", "127.0.0.1"][..],
            &["cue-bgp", "65001", "10.0.0", "127.0.0.1"],
            &["cue-bgp", "65001", "10.0.0.1", "fe80::1"],
            &[
                "cue-bgp",
                "-a",
                "10.0.0.0/33",
                "65001",
                "10.0.0.1",
                "127.0.0.1",
            ],
            &["cue-bgp", "-c", "65536:1", "65001", "10.0.0.1", "127.0.0.1"],
            &[
                "cue-bgp",
                "--hold-time",
                "2",
                "65001",
                "10.0.0.1",
                "127.0.0.1",
            ],
            &["cue-bgp", "--port", "0", "65001", "10.0.0.1", "127.0.0.1"],
            &["cue-bgp", "65001", "10.0.0.1"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn subcommands_parse() {
        let cli = Cli::try_parse_from(["cue-bgp", "listen", "--port", "1179", "65002", "10.0.0.2"])
            .unwrap();
        assert!(matches!(cli.command, Some(Command::Listen(_))));
        let cli = Cli::try_parse_from(["cue-bgp", "demo"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Demo(_))));
    }
}
