//! Feeds arbitrary bytes to the stream framer and the message decoder, in
//! both AS-number widths and both error handlings (RFC 7606 and RFC 4271
//! alone), with and without ADD-PATH path ids. Nothing may panic; a well-formed message must encode and decode
//! to the same value; every error must map to a NOTIFICATION; RFC 7606 may
//! only keep a session that RFC 4271 alone would have reset, never the
//! other way round.
#![no_main]

use cue::bgp::wire::{frame_within, AddPathFamilies, DecodeContext, Family, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let ctx = DecodeContext {
        four_octet_as: flags & 1 == 1,
        external: flags & 0x80 != 0,
        strict: false,
        extended_messages: flags & 2 == 2,
        // ADD-PATH (RFC 7911): NLRI of IPv4 and/or IPv6 with path ids.
        add_path: AddPathFamilies::of(
            &[(0x10, Family::Ipv4Unicast), (0x20, Family::Ipv6Unicast)]
                .into_iter()
                .filter(|(bit, _)| flags & bit != 0)
                .map(|(_, f)| f)
                .collect::<Vec<_>>(),
        ),
    };
    // As a stream: frame message after message.
    let mut rest = bytes;
    while let Ok(Some(len)) = frame_within(rest, ctx.max_message_len()) {
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
    let strict = Message::decode(
        bytes,
        DecodeContext {
            strict: true,
            ..ctx
        },
    );
    let revised = Message::decode(bytes, ctx);
    match &strict {
        Ok(msg) => {
            assert_eq!(&revised, &strict, "well-formed either way");
            // What RFC 6793 discarded is not encoded again.
            let mut msg = msg.clone();
            if let Message::Update(u) = &mut msg {
                assert!(u
                    .errors
                    .iter()
                    .all(|e| matches!(e.attribute, Some(17 | 18))));
                u.errors.clear();
            }
            let again = msg.to_bytes(ctx);
            assert_eq!(Message::decode(&again, ctx), Ok(msg));
        }
        Err(e) => {
            let n = e.notification();
            assert!((1..=7).contains(&n.code));
        }
    }
    match revised {
        Ok(Message::Update(u)) if !u.errors.is_empty() => {
            let rfc6793 = u
                .errors
                .iter()
                .all(|e| matches!(e.attribute, Some(17 | 18)));
            assert!(
                strict.is_err() || rfc6793,
                "RFC 7606 found errors RFC 4271 did not"
            );
            // What is kept encodes and decodes without a panic.
            let again = Message::Update(u).to_bytes(ctx);
            let _ = Message::decode(&again, ctx);
        }
        Ok(_) => {}
        Err(e) => {
            assert!(strict.is_err(), "a reset RFC 4271 would not do: {e}");
            assert!((1..=7).contains(&e.notification().code));
        }
    }
}
