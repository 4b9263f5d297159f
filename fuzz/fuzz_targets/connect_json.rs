//! `cargo fuzz run connect_json`: the oracle lives in `../oracle/connect_json.rs`, shared with the
//! corpus-replay test of the crate under test (see ../README.md).
#![no_main]

#[path = "../oracle/connect_json.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
