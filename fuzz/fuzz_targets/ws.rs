//! `cargo fuzz run ws`: the oracle lives in `../oracle/ws.rs`, shared with the
//! corpus-replay test of the crate under test (see ../README.md).
#![no_main]

#[path = "../oracle/ws.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
