//! Replays a fuzz target's corpus (and its crash reproducers) through the
//! target's oracle as an ordinary test: included by the corpus-replay tests of
//! the crates under test (`crates/*/tests/fuzz_corpus.rs`) with `#[path]`.

use std::path::{Path, PathBuf};

/// Files of `dir`, sorted; empty when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("read_dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Runs `check` on every file of `fuzz/corpus/<target>/` (which must exist and
/// hold at least `min_files` files) and of `fuzz/artifacts/<target>/` if any;
/// fails naming every input whose check panicked. Returns how many were run.
pub fn replay(manifest_dir: &str, target: &str, min_files: usize, check: fn(&[u8])) -> usize {
    let fuzz = Path::new(manifest_dir).join("../../fuzz");
    let corpus = fuzz.join("corpus").join(target);
    let seeds = files(&corpus);
    assert!(
        seeds.len() >= min_files,
        "fuzz corpus {} holds {} files, want at least {min_files}: a replay that checks \
         nothing is a broken test (was the corpus deleted or moved?)",
        corpus.display(),
        seeds.len()
    );
    let crashes = files(&fuzz.join("artifacts").join(target));
    let mut failures = Vec::new();
    for path in seeds.iter().chain(&crashes) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let run = std::panic::catch_unwind(|| check(&data));
        if let Err(cause) = run {
            let why = cause
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| cause.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {why}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {target} inputs fail the oracle:\n{}",
        failures.len(),
        seeds.len() + crashes.len(),
        failures.join("\n")
    );
    seeds.len() + crashes.len()
}
