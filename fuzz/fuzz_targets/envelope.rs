//! Fuzz target `envelope`: see `candor_fuzzing::envelope` for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| candor_fuzzing::envelope(data));
