//! The `parser`, `connect_json` and `ws` fuzz corpora (`fuzz/corpus/`, plus any crash
//! reproducers in `fuzz/artifacts/`) replayed through the fuzz targets' own
//! oracles, so every run of the tests keeps them passing without a fuzzer.

#[path = "../../../fuzz/oracle/connect_json.rs"]
mod connect_json;
#[path = "../../../fuzz/oracle/parser.rs"]
mod parser;
#[path = "../../../fuzz/oracle/replay.rs"]
mod replay;
#[path = "../../../fuzz/oracle/ws.rs"]
mod ws;

#[test]
fn parser_corpus() {
    replay::replay(env!("CARGO_MANIFEST_DIR"), "parser", 50, parser::check);
}

#[test]
fn connect_json_corpus() {
    replay::replay(
        env!("CARGO_MANIFEST_DIR"),
        "connect_json",
        20,
        connect_json::check,
    );
}

#[test]
fn ws_corpus() {
    replay::replay(env!("CARGO_MANIFEST_DIR"), "ws", 30, ws::check);
}
