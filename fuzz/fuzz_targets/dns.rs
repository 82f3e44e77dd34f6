//! A DNS server's reply as any bytes, to the director's DNS check: it is
//! ours and passes or fails, or it is not ours; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    // The query ID the reply must carry: the reply's own, or another.
    let id = u16::from_be_bytes([data[0], data[1]]);
    let _ = cue::director::check::fuzzing::dns_reply(data, id);
    let _ = cue::director::check::fuzzing::dns_reply(data, id.wrapping_add(1));
});
