#!/bin/sh
# Regenerates every NAME.out from the reference: what `nats-server -t -c NAME.conf`
# prints (stdout and stderr together) and its exit status, run from this folder
# with the environment the corpus tests set. Needs nats-server 2.15 on PATH.
# Review the diff before committing: the .out files are the specification.
# NAME.shoal.out (hand-kept) is what `shoal -t` prints where it deliberately
# differs: a key Shoal refuses, or a start-up cross-check Shoal's -t applies.
set -u
cd "$(dirname "$0")"
nats-server --version | grep -q 'v2\.15\.' || { echo "need nats-server 2.15 on PATH" >&2; exit 1; }
export SHOAL_CONF_TEST_PAY=2KB
export SHOAL_CONF_TEST_NAME=from_env
export SHOAL_CONF_TEST_CYCLE='$SHOAL_CONF_TEST_CYCLE'
export SHOAL_CONF_TEST_BAD='['
unset SHOAL_CONF_TEST_MISSING
for conf in *.conf; do
    name=${conf%.conf}
    { timeout 10 nats-server -t -c "$conf" 2>&1; echo "exit $?"; } > "$name.out"
done
