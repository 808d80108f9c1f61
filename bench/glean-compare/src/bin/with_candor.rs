//! Size probe: Candor opened on a data directory with the example schema
//! (embedded), consent granted, one counter added and persisted. Built
//! without the `http` feature by default: the host app supplies the
//! uploader. With `--features candor-http` it installs Candor's own HTTPS
//! uploader (never called here, but linked through its vtable).

use std::path::PathBuf;

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("glean-compare-candor"));
    std::fs::create_dir_all(&dir).expect("data dir");
    let src = include_str!("../../../../examples/browser.toml");
    let schema = candor_schema::parse(src, "browser.toml", time::macros::date!(2026 - 11 - 29))
        .expect("the example schema is valid")
        .schema;
    let keys = candor_protocol::KeyPair::derive("eu", 1, &[42; 32]).expect("valid key");
    let mut config = candor_sdk::Config::new(&dir, schema, keys.config().clone());
    config.persist_interval = None;
    #[cfg(feature = "candor-http")]
    {
        config.uploader = Some(std::sync::Arc::new(candor_sdk::upload::HttpUploader::new(
            "https://eu.collector.example",
        )));
    }
    let candor = candor_sdk::Candor::open(config).expect("opens");
    candor.grant("usage").expect("consent stored");
    candor.counter("browser.tabs_opened").add(1);
    candor.flush();
    println!("{}", dir.display());
}
