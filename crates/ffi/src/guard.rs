//! The boundary: no Rust panic may unwind into the host's runtime.
//!
//! UniFFI's scaffolding already catches panics, but turns them into the
//! generic `InternalError` / `InternalException` of each language, which
//! a recording call must never throw. So every entry point runs here: a
//! panic becomes [`CandorError::Internal`] where the call can fail, and a
//! counted, logged no-op where it cannot.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::CandorError;

/// Panics caught at the boundary since the library was loaded (shown as
/// `*ffi` → `panic` in `Client::error_counts`).
pub(crate) static PANICS: AtomicU64 = AtomicU64::new(0);

fn what(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// Runs `f`; a panic becomes `CandorError::Internal`.
pub(crate) fn fallible<T>(f: impl FnOnce() -> Result<T, CandorError>) -> Result<T, CandorError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        PANICS.fetch_add(1, Ordering::Relaxed);
        Err(CandorError::Internal {
            code: "internal".into(),
            detail: what(payload.as_ref()),
        })
    })
}

/// Runs `f`, which cannot fail; a panic is counted and `fallback` returned.
pub(crate) fn infallible<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        // The default panic hook has already printed the reason to stderr.
        PANICS.fetch_add(1, Ordering::Relaxed);
        fallback
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error_or_the_fallback() {
        let before = PANICS.load(Ordering::Relaxed);
        let err = fallible::<()>(|| panic!("boom")).unwrap_err();
        assert_eq!(err.code(), "internal");
        assert!(err.to_string().contains("boom"), "{err}");
        assert_eq!(infallible(7, || -> i32 { panic!("again") }), 7);
        assert!(PANICS.load(Ordering::Relaxed) >= before + 2);
        assert_eq!(fallible(|| Ok(3)).unwrap(), 3);
        assert_eq!(infallible(0, || 5), 5);
    }
}
