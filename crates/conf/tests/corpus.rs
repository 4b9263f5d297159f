//! The corpus: every `corpus/NAME.conf` next to `corpus/NAME.out`, which is what
//! the reference `nats-server -t -c NAME.conf` printed for it (made by
//! `corpus/regenerate.sh`, run from that folder with the environment set below).
//!
//! For each case this crate must agree with the reference on the syntax level:
//! * the reference said `is valid (sha256:D)` → the file parses and its digest is D
//!   (the digest covers every key and value, so this checks the whole tree);
//! * the reference failed with an error of the format itself (lexer, variables,
//!   includes, value conversion) → parsing fails with exactly that message;
//! * the reference failed on what the keys mean (unknown field, wrong type…) →
//!   the file parses; the `shoal` binary's own tests check those messages.

use std::fs;
use std::path::Path;

const FORMAT_ERRORS: &[&str] = &[
    "Parse error on line ",
    "error parsing include file ",
    "variable reference for ",
    "integer '",
    "expected integer",
    "expected float",
    "float '",
    "expected boolean",
    "expected Zulu",
    "config is invalid (",
];

#[test]
fn corpus_matches_the_reference() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    // Paths in the corpus are relative to its folder, as in regenerate.sh. This
    // test binary holds this one test, so changing its directory is safe.
    std::env::set_current_dir(&dir).unwrap();
    std::env::set_var("SHOAL_CONF_TEST_PAY", "2KB");
    std::env::set_var("SHOAL_CONF_TEST_NAME", "from_env");
    std::env::set_var("SHOAL_CONF_TEST_CYCLE", "$SHOAL_CONF_TEST_CYCLE");
    std::env::set_var("SHOAL_CONF_TEST_BAD", "[");
    std::env::remove_var("SHOAL_CONF_TEST_MISSING");

    let mut names: Vec<String> = fs::read_dir(".")
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".conf").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() > 100, "corpus too small: {}", names.len());
    let mut failures = Vec::new();
    let (mut valid, mut format_errors, mut key_errors) = (0, 0, 0);
    for name in &names {
        let conf = format!("{name}.conf");
        let out = fs::read(format!("{name}.out")).unwrap_or_else(|e| panic!("{name}.out: {e}"));
        let out = String::from_utf8(out).unwrap();
        let said = out.strip_prefix("nats-server: ").unwrap_or(&out);
        let said = said[..said.rfind("exit ").unwrap()].trim_end_matches('\n');
        let got = shoal_conf::parse_file(&conf);
        if let Some(at) = said.find("is valid (") {
            valid += 1;
            let want = &said[at + "is valid (".len()..said.len() - 1];
            match &got {
                Ok(map) if shoal_conf::digest(map) == want => {}
                Ok(map) => failures.push(format!(
                    "{name}: digest {} != {want}; tree {}",
                    shoal_conf::digest(map),
                    shoal_conf::go_json(map)
                )),
                Err(e) => failures.push(format!("{name}: error {e:?}, reference said valid")),
            }
        } else if FORMAT_ERRORS.iter().any(|p| said.starts_with(p)) {
            format_errors += 1;
            match &got {
                Err(e) if e.to_string() == said => {}
                Err(e) => failures.push(format!("{name}:\n  got  {e}\n  want {said}")),
                Ok(map) => failures.push(format!(
                    "{name}: parsed {}, want error {said}",
                    shoal_conf::go_json(map)
                )),
            }
        } else {
            key_errors += 1;
            if let Err(e) = &got {
                failures.push(format!("{name}: error {e}, but the reference parsed it"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from nats-server:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
    assert!(valid > 50 && format_errors > 30 && key_errors > 10);
}
