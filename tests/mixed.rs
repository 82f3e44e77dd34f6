//! One `cue-bgp` with two peers at once (a pool): BIRD on 127.0.0.1 and
//! GoBGP on 127.0.0.2, same port, one shared RIB.

mod common;

use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

#[test]
fn one_speaker_two_daemons() {
    if !have("bird") || !have("gobgpd") {
        return;
    }
    let port = free_port();
    // Listening on 127.0.0.1 only: GoBGP takes 127.0.0.2.
    let bird = ibgp_bird_with(port, "strict bind yes;");
    let gobgp = Gobgp::start(&format!(
        r#"
[global.config]
  as = 65003
  router-id = "127.0.0.3"
  port = {port}
  local-address-list = ["127.0.0.2"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = 65001
  [neighbors.transport.config]
    passive-mode = true
"#
    ));
    let p = port.to_string();
    let cue = Cue::start(&[
        "--port",
        &p,
        "--json",
        "-4",
        "192.0.2.1",
        "-a",
        "10.7.7.7",
        "65001",
        "127.0.0.1",
        "127.0.0.1",
        "127.0.0.2",
    ]);
    wait_for("the route in BIRD", T, || bird.route("10.7.7.7/32"));
    let attrs = wait_for("the route in GoBGP", T, || {
        gobgp_attrs(&gobgp.rib("ipv4"), "10.7.7.7/32")
    });
    // GoBGP is external (AS 65003): AS_PATH holds our AS, no LOCAL_PREF.
    assert_eq!(
        gobgp_attr(&attrs, 2).unwrap()["as_paths"][0]["asns"],
        serde_json::json!([65001])
    );
    let done = cue.terminate();
    assert!(done.status.success());
    let status: Vec<_> = done
        .json()
        .into_iter()
        .filter(|e| e["event"] == "status")
        .collect();
    assert_eq!(status.len(), 2, "one status per peer: {}", done.stdout);
    let peers: Vec<_> = status.iter().map(|s| s["peer"].as_str().unwrap()).collect();
    assert_eq!(peers, ["127.0.0.1", "127.0.0.2"]);
    assert!(status.iter().all(|s| s["established"] == 1));
}
