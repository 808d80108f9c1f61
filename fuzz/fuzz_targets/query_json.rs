//! Fuzz target `query_json`: see `candor_fuzzing::query_json` for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| candor_fuzzing::query_json(data));
