//! Feeds arbitrary bytes to the stream framer and the message decoder, in
//! both AS-number widths. Nothing may panic; whatever decodes must encode
//! and decode to the same value; every error must map to a NOTIFICATION.
#![no_main]

use cue::bgp::wire::{frame, DecodeContext, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let ctx = DecodeContext::with_four_octet_as(flags & 1 == 1);
    // As a stream: frame message after message.
    let mut rest = bytes;
    while let Ok(Some(len)) = frame(rest) {
        check(&rest[..len], ctx);
        rest = &rest[len..];
    }
    // As one message with a valid header around the body.
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((19 + bytes.len()).min(u16::MAX as usize) as u16).to_be_bytes());
    m.push(flags >> 1 & 7);
    m.extend_from_slice(bytes);
    check(&m, ctx);
});

fn check(bytes: &[u8], ctx: DecodeContext) {
    match Message::decode(bytes, ctx) {
        Ok(msg) => {
            let again = msg.to_bytes(ctx);
            assert_eq!(Message::decode(&again, ctx), Ok(msg));
        }
        Err(e) => {
            let n = e.notification();
            assert!((1..=7).contains(&n.code));
        }
    }
}
