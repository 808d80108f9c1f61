//! Fuzz target `schema_toml`: see `candor_fuzzing::schema_toml` for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| candor_fuzzing::schema_toml(data));
