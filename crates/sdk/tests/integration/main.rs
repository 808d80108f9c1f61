//! Integration tests of the device SDK, one binary:
//! - `activity`: the activity flags, their gates and their on-device memory;
//! - `consent`: default deny, versioned grants, receipts, revocation purges;
//! - `modes`: private mode, global opt-out and child profile from many threads;
//! - `recording`: typed handles, error counters, clamping, one report per day;
//! - `anonymity`: reports of equal usage differ only in their report id;
//! - `upload`: backoff, Retry-After, per-report outcomes, revocation mid-upload;
//! - `transparency`: pending and sent reports, retention, delete_all_data;
//! - `local_dp`: permanent randomized response, local-DP metrics on every
//!   reported day, memory forgotten on revocation, days past the window;
//! - `key_list`: the signed key list: unsigned, other-key, tampered and
//!   expired lists refused and counted; nothing sealed without a valid
//!   list, everything once one arrives;
//! - `crash`: kill -9 a child process at random points and check the invariants.

mod activity;
mod anonymity;
mod common;
mod consent;
mod crash;
mod key_list;
mod local_dp;
mod modes;
mod recording;
mod transparency;
mod upload;
