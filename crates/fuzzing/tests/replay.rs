//! Replays, through the same entry points the coverage-guided targets call
//! and on the stable toolchain, the committed fuzz corpora
//! (`fuzz/corpus/<target>/`, minimized), the hand-picked seeds
//! (`fuzz/seeds/<target>/`: the wire vectors, the example schema, the
//! sample configuration, the API's example query) and the inputs of past
//! findings (`fuzz/regressions/<target>/`). Seeds and findings are kept
//! apart so a corpus minimization never drops them. `cargo test
//! --workspace` checks them all again in seconds.

use std::path::{Path, PathBuf};

/// The files of `fuzz/<folder>/<target>/`, sorted; none when the folder
/// does not exist.
fn inputs(folder: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(folder)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, files: &[PathBuf]) {
    for file in files {
        let data = std::fs::read(file).expect("readable");
        let outcome = std::panic::catch_unwind(|| candor_fuzzing::run(target, &data));
        assert!(
            outcome.is_ok(),
            "{target}: {} breaks an invariant",
            file.display()
        );
    }
}

#[test]
fn every_committed_corpus_input_keeps_its_invariants() {
    let mut total = 0;
    for target in candor_fuzzing::TARGETS {
        let files = inputs("corpus", target);
        assert!(!files.is_empty(), "fuzz/corpus/{target} is empty");
        replay(target, &files);
        total += files.len();
    }
    eprintln!("replayed {total} corpus inputs");
}

#[test]
fn every_seed_keeps_its_invariants() {
    for target in candor_fuzzing::TARGETS {
        let files = inputs("seeds", target);
        assert!(!files.is_empty(), "fuzz/seeds/{target} is empty");
        replay(target, &files);
    }
}

#[test]
fn the_inputs_of_past_findings_keep_their_invariants() {
    let mut total = 0;
    for target in candor_fuzzing::TARGETS {
        let files = inputs("regressions", target);
        replay(target, &files);
        total += files.len();
    }
    assert!(total > 0, "fuzz/regressions/ holds the findings' inputs");
}

#[test]
fn the_seeds_reach_the_deep_paths() {
    // The test vectors open with the vector key and validate, so the
    // corpora start past the decoders' first refusals.
    let vector = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/envelope/vector-1"),
    )
    .expect("vector 1 seed");
    let env = candor_protocol::Envelope::decode(&vector).expect("vector 1 decodes");
    assert_eq!(env.header.purpose, "usage");
    candor_fuzzing::envelope(&vector);
}
