//! `cue-bgp scenario`: a router under test, from a TOML file.

use super::output::table;
use super::UsageError;
use clap::Args;
use cue::scenario::{Report, RunError, Scenario, Stats};
use std::path::PathBuf;
use std::process::ExitCode;

/// `scenario` arguments.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Exit status: 0 every limit held, 1 a limit failed (said which and by how much), \
2 the file is wrong (line and key named; nothing was started), 3 sessions did not come up.\n\
The file's keys are in the README (\"Testing a router\"); examples/scenarios/ has one per daemon."
)]
pub struct ScenarioArgs {
    /// Scenario file (TOML)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the report as one JSON object (schema/scenario.json)
    #[arg(long)]
    pub json: bool,
    /// Check the file and exit without starting anything
    #[arg(long)]
    pub check: bool,
    /// Draw the run into an SVG file: routes held at each observer over
    /// time with the steps marked, and the latency distribution
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// Reads and checks a scenario file.
pub fn load(path: &std::path::Path) -> Result<Scenario, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    let dir = path.parent().unwrap_or(std::path::Path::new(""));
    Scenario::from_toml_in(&text, dir).map_err(|e| UsageError(format!("{}: {e}", path.display())))
}

/// Runs a scenario.
pub async fn run(args: ScenarioArgs) -> anyhow::Result<ExitCode> {
    let scenario = load(&args.file)?;
    if args.check {
        println!(
            "{}: {} peers, {} observers, {} steps",
            args.file.display(),
            scenario.peers(),
            scenario.observers.len(),
            scenario.steps.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let report = match scenario.run().await {
        Ok(r) => r,
        Err(e @ RunError::NotEstablished { .. }) => {
            eprintln!("cue-bgp: {e}");
            return Ok(ExitCode::from(super::EXIT_NOT_ESTABLISHED));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(path) = &args.plot {
        super::plot::plot(&report, path)?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    for f in report.failures() {
        eprintln!("cue-bgp: limit failed: {f}");
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A limit's figure: a count as it is, milliseconds to a tenth.
fn figure(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The report as tables: per step and kind, then the limits.
fn print_report(r: &Report) {
    println!(
        "{} peers, {} observers: established in {:.2} s",
        r.peers, r.observers, r.established_s
    );
    let mut t = table(&[
        "Step",
        "Kind",
        "Sent",
        "Received",
        "Missing",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "Routes/s",
        "Converged",
    ]);
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    let mut row = |step: String, kind: &str, s: &Stats, converged: String| {
        t.add_row(vec![
            step,
            kind.to_string(),
            s.sent.to_string(),
            s.received.to_string(),
            s.missing.to_string(),
            ms(s.p50_ms),
            ms(s.p90_ms),
            ms(s.p99_ms),
            ms(s.max_ms),
            s.per_second.map_or("-".into(), |v| format!("{v:.0}")),
            converged,
        ]);
    };
    for s in &r.steps {
        let converged = match (s.converged_s, s.not_converged) {
            (Some(c), _) => format!("{c:.2} s"),
            (None, true) => "NO".into(),
            (None, false) => String::new(),
        };
        let name = format!("{} {}", s.index, s.step);
        let kinds = [("announce", &s.announce), ("withdraw", &s.withdraw)];
        let shown: Vec<_> = kinds.iter().filter(|(_, st)| st.sent > 0).collect();
        if shown.is_empty() {
            row(name, "", &Stats::default(), converged);
            continue;
        }
        for (k, st) in shown {
            row(name.clone(), k, st, converged.clone());
        }
    }
    row("all".into(), "announce", &r.announce, String::new());
    row("all".into(), "withdraw", &r.withdraw, String::new());
    println!("{t}");
    let mut l = table(&["Limit", "Allowed", "Measured", "Result"]);
    for c in &r.limits {
        l.add_row(vec![
            c.limit.clone(),
            figure(c.allowed),
            c.measured.map_or("-".into(), figure),
            if c.passed {
                "ok".into()
            } else {
                "FAILED".into()
            },
        ]);
    }
    println!("{l}");
    if r.lagged > 0 {
        println!("{} events lost: the figures miss changes", r.lagged);
    }
}
