//! `cue-bgp demo`: a speaker and a listener in one process, on loopback.

use super::args::{parse_prefix, SAMPLE_ADDRESSES};
use super::output::Printer;
use anyhow::bail;
use clap::Args;
use cue::bgp::wire::{Community, LargeCommunity};
use cue::bgp::{Parameters, PeerConfig, Pool, State};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `demo` arguments.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// One JSON object per line instead of text
    #[arg(long)]
    pub json: bool,
}

const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// Polls `check` until it holds or the step times out.
async fn wait_for(what: &str, mut check: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while !check() {
        if start.elapsed() > STEP_TIMEOUT {
            bail!("demo: timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The listener: any peer, iBGP AS 65001, router ID 127.0.0.2, on a port
/// of loopback the system picks.
async fn start_listener() -> anyhow::Result<(Pool, SocketAddr)> {
    let (listener, _listener_events) = Pool::new();
    let mut template = PeerConfig::new(
        Ipv4Addr::UNSPECIFIED.into(),
        65001,
        Ipv4Addr::new(127, 0, 0, 2),
    );
    template.multiprotocol = true;
    template.passive = true;
    listener.accept_any(Some(template))?;
    let bound = listener
        .listen(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0))
        .await?;
    Ok((listener, bound))
}

/// The speaker's attributes: MED and LOCAL_PREF as given, a community and
/// a large community, IPv6 next hop ::1.
fn params(med: u32, local_pref: u32) -> Parameters {
    Parameters {
        med,
        local_pref: Some(local_pref),
        communities: vec![Community(65001 << 16 | 100)],
        large_communities: vec![LargeCommunity {
            global: 65001,
            local1: 1,
            local2: 1,
        }],
        next_hop6: Some(Ipv6Addr::LOCALHOST),
        ..Default::default()
    }
}

/// Runs the demonstration.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let printer = Printer { json: args.json };
    let say = |s: &str| {
        if !args.json {
            printer.text(&format!("\n== {s}"));
        }
    };

    let (listener, bound) = start_listener().await?;

    // The speaker: dials the listener's port, multiprotocol, IPv6 next hop ::1.
    let (speaker, mut events) = Pool::new();
    let printer_task = tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            printer.event(&e);
        }
    });
    let mut peer = PeerConfig::new(bound.ip(), 65001, Ipv4Addr::LOCALHOST);
    peer.address = bound;
    peer.multiprotocol = true;
    peer.connect_retry = Duration::from_secs(1);
    peer.parameters = params(50, 200);
    say(&format!("speaker AS 65001 dials listener on {bound}"));
    speaker.configure(vec![peer.clone()]).await?;
    wait_for("the session to come up", || {
        speaker
            .status()
            .iter()
            .any(|s| s.state == State::Established)
    })
    .await?;

    let samples: Vec<_> = SAMPLE_ADDRESSES
        .iter()
        .map(|s| parse_prefix(s).expect("sample address"))
        .collect();
    say("advertise the six sample addresses with MED 50, LOCAL_PREF 200, community 65001:100");
    speaker.set_rib(samples.iter().copied());
    wait_for("the listener to hold 6 routes", || {
        let r = listener.adj_rib_in();
        r.len() == 6 && r.iter().all(|(_, _, a)| a.med == Some(50))
    })
    .await?;
    printer.routes(&listener.adj_rib_in(), &Default::default());

    say("change MED and LOCAL_PREF to 123: every route is re-advertised");
    peer.parameters = params(123, 123);
    speaker.configure(vec![peer.clone()]).await?;
    wait_for("the new attributes", || {
        let r = listener.adj_rib_in();
        r.len() == 6
            && r.iter()
                .all(|(_, _, a)| a.med == Some(123) && a.local_pref == Some(123))
    })
    .await?;
    printer.routes(&listener.adj_rib_in(), &Default::default());

    say("withdraw 192.168.101.0 and fd0b:2b0b:a7b8:1ee7:c0de:0:c0a8:6500");
    speaker.set_rib(samples[1..3].iter().chain(&samples[4..]).copied());
    wait_for("the withdrawal", || listener.adj_rib_in().len() == 4).await?;
    printer.routes(&listener.adj_rib_in(), &Default::default());

    say("withdraw everything and stop");
    speaker.set_rib([]);
    wait_for("the listener to hold no route", || {
        listener.adj_rib_in().is_empty()
    })
    .await?;
    let status = speaker.shutdown().await;
    listener.shutdown().await;
    drop(speaker);
    let _ = printer_task.await;
    printer.status(&status);
    Ok(ExitCode::SUCCESS)
}
