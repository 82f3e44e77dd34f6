#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a bounded time with
# libFuzzer, on the machine's one stable toolchain: the targets are built
# with the coverage instrumentation cargo-fuzz would add (no sanitizer:
# that needs a nightly compiler; the crate's only unsafe code is two
# setsockopt calls and a socket registration). Each target's corpus grows
# in target/fuzz-corpus/TARGET, seeded from fuzz/seeds/TARGET. A crash
# fails the run and leaves its input in target/fuzz-artifacts/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# With an explicit --target, RUSTFLAGS reach only the code that runs in the
# targets, not build scripts and proc macros (as with cargo-fuzz).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --quiet --manifest-path fuzz/Cargo.toml --target-dir target/fuzz --target "$host"
bin=target/fuzz/$host/release
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^cue-fuzz$')
total_runs=0
total_corpus=0
mkdir -p target/fuzz-artifacts
for t in $targets; do
  corpus=target/fuzz-corpus/$t
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
  log=$(mktemp)
  if ! "$bin/$t" "$corpus" "${seeds[@]}" -max_total_time="$secs" -rss_limit_mb=2048 \
      -max_len=8192 -print_final_stats=1 -artifact_prefix=target/fuzz-artifacts/"$t"- >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz target $t failed: its input is in target/fuzz-artifacts/"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  size=$(find "$corpus" -type f | wc -l)
  rm -f "$log"
  echo "fuzz $t: ${runs:-0} runs in ${secs}s, corpus $size inputs"
  total_runs=$((total_runs + ${runs:-0}))
  total_corpus=$((total_corpus + size))
done
echo "fuzz: $total_runs runs in all, corpus $total_corpus inputs, no crash"
