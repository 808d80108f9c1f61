//! Size baseline: the same std surface as the SDK probes (a data directory,
//! a file write, a thread, formatted output), no SDK.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("glean-compare-baseline"));
    std::fs::create_dir_all(&dir).expect("data dir");
    let counter = Arc::new(AtomicU64::new(0));
    let c = counter.clone();
    std::thread::spawn(move || c.fetch_add(1, Ordering::Relaxed))
        .join()
        .expect("thread");
    let count = counter.load(Ordering::Relaxed).to_string();
    std::fs::write(dir.join("count"), count).expect("write");
    println!("{}", dir.display());
}
