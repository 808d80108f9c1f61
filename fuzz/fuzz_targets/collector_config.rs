//! Fuzz target `collector_config`: see `candor_fuzzing::collector_config` for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| candor_fuzzing::collector_config(data));
