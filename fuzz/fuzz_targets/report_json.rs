//! Fuzz target `report_json`: see `candor_fuzzing::report_json` for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| candor_fuzzing::report_json(data));
