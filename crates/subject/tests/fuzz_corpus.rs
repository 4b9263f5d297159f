//! The `subject` fuzz corpus (`fuzz/corpus/subject/`, plus any crash
//! reproducers in `fuzz/artifacts/subject/`) replayed through the fuzz target's
//! own oracle, so every run of the tests keeps it passing without a fuzzer.

#[path = "../../../fuzz/oracle/replay.rs"]
mod replay;
#[path = "../../../fuzz/oracle/subject.rs"]
mod subject;

#[test]
fn subject_corpus() {
    replay::replay(env!("CARGO_MANIFEST_DIR"), "subject", 20, subject::check);
}
