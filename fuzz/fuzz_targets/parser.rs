//! `cargo fuzz run parser`: the oracle lives in `../oracle/parser.rs`, shared with the
//! corpus-replay test of the crate under test (see ../README.md).
#![no_main]

#[path = "../oracle/parser.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
