//! `uniffi-bindgen` pinned to the workspace's UniFFI version, so that the
//! generated bindings always match the scaffolding of `candor-ffi`
//! (a mismatched generator fails at load time with a contract-version
//! error). Used by maturin for Python and by `.ci/run` for Kotlin:
//! `cargo run -p candor-ffi-bindgen -- generate --library <libcandor_ffi.so> --language kotlin --out-dir <dir>`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
