//! `cargo fuzz run subject`: the oracle lives in `../oracle/subject.rs`, shared with the
//! corpus-replay test of the crate under test (see ../README.md).
#![no_main]

#[path = "../oracle/subject.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
