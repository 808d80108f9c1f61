//! Decoding hostile input allocates no more than the wire limits allow.
//!
//! A counting global allocator records, per thread, the peak number of live
//! heap bytes while a decoder runs. It is its own test binary so that no
//! other test shares the allocator.

#![allow(unsafe_code)] // A GlobalAlloc impl is unsafe by definition; it only counts and forwards.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use candor_protocol::limits::{
    MAX_BATCH_BYTES, MAX_BATCH_REPORTS, MAX_ENVELOPE_BYTES, MAX_REPORT_BYTES,
};
use candor_protocol::{Envelope, KeyPair, Opener, Report, batch};

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// thread-local counters are const-initialised Cells, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|l| {
            let now = l.get() + layout.size();
            l.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
        // SAFETY: same layout the caller gave us.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(layout.size())));
        // SAFETY: ptr was allocated by System with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Peak extra heap bytes while `f` runs on this thread.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    f();
    PEAK.with(Cell::get) - base
}

#[test]
fn decoders_allocate_within_limits() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let keys = KeyPair::generate("eu", 1).expect("keygen");
    let opener = Opener::new("eu", [keys]).expect("same region");

    // A batch header claiming the maximum count, over a buffer of the
    // maximum size: the only allocation is the list of slices.
    let mut big = b"CNDB\x01".to_vec();
    big.extend_from_slice(&(MAX_BATCH_REPORTS as u16).to_be_bytes());
    while big.len() + 4 + 100 <= MAX_BATCH_BYTES && big.len() < 7 + MAX_BATCH_REPORTS * 104 {
        big.extend_from_slice(&100u32.to_be_bytes());
        big.extend_from_slice(b"CNDR");
        big.extend_from_slice(&[0u8; 96]);
    }
    let slice_list = MAX_BATCH_REPORTS * std::mem::size_of::<&[u8]>();
    let peak = peak_during(|| {
        let parts = batch::decode(&big).expect("well framed");
        assert_eq!(parts.len(), MAX_BATCH_REPORTS);
    });
    assert!(peak <= slice_list, "batch decode peaked at {peak} bytes");

    // Random and near-valid inputs of up to the envelope limit.
    for round in 0..3000 {
        let len = (next() as usize)
            % (if round % 10 == 0 {
                MAX_ENVELOPE_BYTES + 64
            } else {
                300
            });
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 && bytes.len() >= 15 {
            // A valid fixed header for region "eu", so decoding goes deeper.
            bytes[..15].copy_from_slice(b"CNDR\x01\x01\x00\x20\x00\x01\x00\x03\x02eu");
        }
        let peak = peak_during(|| {
            let _ = Envelope::decode(&bytes);
        });
        assert!(peak <= 64, "envelope decode peaked at {peak} bytes");
        let peak = peak_during(|| {
            let _ = batch::decode(&bytes);
        });
        assert!(peak <= slice_list, "batch decode peaked at {peak} bytes");
        let peak = peak_during(|| {
            let _ = opener.open(&bytes);
        });
        // Opening may decrypt (plaintext at most the ciphertext) and parse
        // JSON of at most MAX_REPORT_BYTES.
        assert!(
            peak <= 4 * MAX_REPORT_BYTES + 4096,
            "open peaked at {peak} bytes"
        );
        let peak = peak_during(|| {
            let _ = Report::from_json(&bytes);
        });
        assert!(
            peak <= 4 * MAX_REPORT_BYTES,
            "report decode peaked at {peak} bytes"
        );
    }
}
