#!/bin/bash
# First figure (issue 2): 1:1 pub/sub at 16 B and fan-out 1:4 at 128 B, Shoal and
# nats-server 2.15 in one run, each server pinned to CPU 0 (Shoal --cores 1,
# nats-server GOMAXPROCS=1) and the load to CPU 1. Run from the repository root
# after `cargo build --release -p shoal -p shoal-bench`.
B=target/release/shoal-bench
run() { # name cmd...
  local name=$1; shift
  "$@" > /tmp/srv.log 2>&1 & local pid=$!
  sleep 0.7
  for i in 1 2 3; do
    taskset -c 1 $B pubsub --url 127.0.0.1:14555 --msgs 2000000 --size 16 --json | sed "s/^/$name /"
    taskset -c 1 $B fanout --url 127.0.0.1:14555 --msgs 500000 --size 128 --subs 4 --json | sed "s/^/$name /"
  done
  kill $pid; wait $pid 2>/dev/null
}
run shoal taskset -c 0 target/release/shoal -a 127.0.0.1 -p 14555 --cores 1
run nats env GOMAXPROCS=1 taskset -c 0 nats-server -a 127.0.0.1 -p 14555
