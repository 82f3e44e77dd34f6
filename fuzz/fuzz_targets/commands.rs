//! A `--commands` line as any bytes: parsed to a command or refused with
//! a reason, never a panic; a `send` command always holds a whole-sized
//! message with its marker.
#![no_main]

use cue::script::{parse, Command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    match parse(&line) {
        Some(Ok(Command::Send(m))) => {
            assert!((19..=4096).contains(&m.len()));
            assert!(m[..16].iter().all(|&b| b == 0xff));
        }
        Some(Err(e)) => assert!(!e.to_string().is_empty()),
        _ => {}
    }
});
