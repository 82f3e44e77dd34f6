//! The services file of `cue-bgp check` and `--services`, as any text: a
//! configuration is refused with an error or accepted, never a panic; one
//! accepted passes validation (what `Director::start` checks again).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = cue::director::Config::from_json(text) {
        config.validate().expect("a parsed configuration is valid");
    }
});
