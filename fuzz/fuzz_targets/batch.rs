//! Fuzz target `batch`: see `candor_fuzzing::batch` for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| candor_fuzzing::batch(data));
