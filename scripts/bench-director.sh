#!/usr/bin/env bash
# The director's cost: 10,000 HTTP destinations (100 services of 100), each
# probed every second over a kept-alive connection, against loopback HTTP
# servers (examples/bench_http_server.rs on 127.0.0.1-100, 100 ports each).
# Reports the checks per second the server saw, the CPU of `cue-bgp check`
# (share of one core) and its memory, over a measured window after warm-up.
# With TYPE syn, the same destinations get half-open SYN checks instead
# (the servers' kernels answer; the servers count no requests then).
# Usage: scripts/bench-director.sh [SECONDS] [INTERVAL] [TYPE]   (default 30, 1s, http)
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-30}
interval=${2:-1s}
type=${3:-http}
# Every connection is a file descriptor on both sides: use the hard limit.
ulimit -n "$(ulimit -Hn)"

cargo build --release --quiet --bin cue-bgp --example bench_http_server
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# Two server processes (50 addresses each) keep each under its descriptor
# limit: a listener and a connection per destination.
./target/release/examples/bench_http_server 1 50 20000 100 > "$work/server1.out" &
./target/release/examples/bench_http_server 51 100 20000 100 > "$work/server2.out" &
until grep -q listening "$work/server1.out" && grep -q listening "$work/server2.out"; do sleep 0.1; done

{
  echo '{"services": ['
  for s in $(seq 0 99); do
    [ "$s" -gt 0 ] && echo ','
    printf '{"address": "192.0.2.%d", "port": 80, "protocol": "tcp", "destinations": [' "$((s + 1))"
    for d in $(seq 0 99); do
      [ "$d" -gt 0 ] && printf ','
      printf '{"address": "127.0.0.%d", "port": %d, "checks": [{"type": "%s", "interval": "%s"}]}' \
        "$((d + 1))" "$((20000 + s))" "$type" "$interval"
    done
    printf ']}'
  done
  echo ']}'
} > "$work/services.json"

./target/release/cue-bgp check "$work/services.json" > "$work/check.out" 2>&1 &
cue=$!
# Warm-up: every service up (5 passes each), connections established.
for _ in $(seq 1 60); do
  [ "$(grep -c 'tcp up (' "$work/check.out" || true)" -ge 100 ] && break
  sleep 1
done
sleep 3

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$cue/stat"; }
served() { echo $(( $(tail -n 1 "$work/server1.out" | awk '{print $2}') + $(tail -n 1 "$work/server2.out" | awk '{print $2}') )); }
c0=$(cpu); s0=$(served); t0=$(date +%s%N)
sleep "$window"
c1=$(cpu); s1=$(served); t1=$(date +%s%N)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$cue/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$cue/status")
up=$(grep -c 'tcp up (' "$work/check.out" || true)
awk -v c="$((c1 - c0))" -v hz="$ticks" -v s="$((s1 - s0))" -v ns="$((t1 - t0))" \
    -v rss="$rss" -v hwm="$hwm" -v up="$up" -v type="$type" 'BEGIN {
  sec = ns / 1e9
  printf "| checks | destinations | checks/s (server count) | cue-bgp CPU (one core = 100%%) | RSS | peak RSS |\n"
  printf "|---|---|---|---|---|---|\n"
  printf "| %s | 10,000 (%d services up) | %.0f | %.1f%% | %.1f MiB | %.1f MiB |\n", type, up, s / sec, 100 * c / hz / sec, rss / 1024, hwm / 1024
}'
