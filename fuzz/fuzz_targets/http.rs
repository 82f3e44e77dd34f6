//! A backend's HTTP response as any bytes, delivered a few bytes per read
//! (the first input byte says how many), to the director's HTTP check:
//! it must pass or fail the probe, never panic, never read a body it was
//! not sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&how, response)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(how & 0x7f).max(1);
    let head = how & 0x80 != 0;
    let r = runtime().block_on(cue::director::check::fuzzing::http_response(
        response, chunk, head,
    ));
    if let Ok((status, _)) = r {
        assert!(status <= 999, "httparse gives three digits");
    }
});
