//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the
//! same entry points the coverage-guided targets call, on the stable
//! toolchain: every input the fuzzer kept, including the inputs of past
//! findings, is checked again by `cargo test --workspace` in seconds.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_corpus_input_keeps_its_invariants() {
    let mut total = 0;
    for target in candor_fuzzing::TARGETS {
        let files = corpus(target);
        assert!(!files.is_empty(), "fuzz/corpus/{target} is empty");
        for file in &files {
            let data = std::fs::read(file).expect("readable");
            let outcome = std::panic::catch_unwind(|| candor_fuzzing::run(target, &data));
            assert!(
                outcome.is_ok(),
                "{target}: {} breaks an invariant",
                file.display()
            );
        }
        total += files.len();
    }
    eprintln!("replayed {total} corpus inputs");
}

#[test]
fn the_seeds_reach_the_deep_paths() {
    // The test vectors open with the vector key and validate, so the
    // corpora start past the decoders' first refusals.
    let vector = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/envelope/seed-0"),
    )
    .expect("vector 1 seed");
    let env = candor_protocol::Envelope::decode(&vector).expect("vector 1 decodes");
    assert_eq!(env.header.purpose, "usage");
    candor_fuzzing::envelope(&vector);
}
