//! The `conf` fuzz corpus (`fuzz/corpus/conf/`, plus any crash reproducers in
//! `fuzz/artifacts/conf/`) replayed through the fuzz target's own oracle, so
//! every run of the tests keeps it passing without a fuzzer.

#[path = "../../../fuzz/oracle/conf.rs"]
mod conf;
#[path = "../../../fuzz/oracle/replay.rs"]
mod replay;

#[test]
fn conf_corpus() {
    replay::replay(env!("CARGO_MANIFEST_DIR"), "conf", 50, conf::check);
}
