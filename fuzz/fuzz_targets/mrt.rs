//! Feeds arbitrary bytes to the MRT reader (`--advertise-mrt`), with the
//! options from the first byte. Nothing may panic; the routes come out
//! sorted, once each, with host bits clear; and what `cue-bgp` would send
//! for them (each attribute set through the export policy, towards an
//! external and an internal peer) must decode as a well-formed UPDATE:
//! a hostile dump never makes us send a malformed one.
#![no_main]

use cue::bgp::mrt::read::{read_routes, MrtOptions};
use cue::bgp::session::policy::{export_with, ExportContext};
use cue::bgp::wire::{DecodeContext, Family, Message, UpdateBuilder};
use cue::bgp::Parameters;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let options = MrtOptions {
        keep_next_hop: flags & 1 != 0,
        as_path_exact: flags & 2 != 0,
        peer: None,
        include_local: flags & 4 != 0,
    };
    let Ok(read) = read_routes(bytes, &options) else {
        return;
    };
    assert!(
        read.routes.windows(2).all(|w| w[0].0 < w[1].0),
        "sorted, once each"
    );
    assert!(read.routes.iter().all(|(p, _)| p.trunc() == *p));
    assert!(read.attribute_sets <= read.routes.len());
    for (peer_as, four_octet_as) in [(65002, true), (65001, false)] {
        let ctx = ExportContext {
            local_as: 65001,
            router_id: "10.0.0.1".parse().unwrap(),
            peer_as,
            four_octet_as,
            local_ip: "192.0.2.1".parse().unwrap(),
        };
        let wire = DecodeContext {
            four_octet_as,
            external: peer_as != 65001,
            strict: true,
            extended_messages: false,
            add_path: Default::default(),
        };
        for (prefix, attrs) in read.routes.iter().take(64) {
            let e = export_with(&ctx, &Parameters::default(), attrs);
            let b = UpdateBuilder::new(&e.attributes, e.next_hop4, &e.next_hops6, wire);
            let mut out = Vec::new();
            b.announce(Family::of(prefix.addr()), [prefix], &mut out);
            if let Err(err) = Message::decode(&out, wire) {
                panic!("we would send a malformed UPDATE for {prefix} ({attrs:?}): {err}");
            }
        }
    }
});
