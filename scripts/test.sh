#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, clippy and rustdoc gates,
# unit and property tests, and the integration tests against real BGP
# daemons (BIRD 2, GoBGP, FRR and ExaBGP), bgpdump and Prometheus, which are installed with apt-get
# when missing and are then mandatory (CUE_REQUIRE_DAEMONS=1); then the
# Debian package, built (cargo-deb, installed with cargo when missing),
# installed with dpkg, used and removed.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v bird >/dev/null 2>&1 || [ -x /usr/sbin/bird ] || need+=(bird2)
command -v gobgpd >/dev/null 2>&1 || need+=(gobgpd)
[ -x /usr/lib/frr/bgpd ] && command -v vtysh >/dev/null 2>&1 || need+=(frr)
exabgp --version >/dev/null 2>&1 || need+=(exabgp)
command -v bgpdump >/dev/null 2>&1 || need+=(bgpdump)
# Prometheus scrapes --metrics in tests/metrics.rs; promtool checks them.
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} with apt-get"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # A package may start its daemons; the tests start their own on their own
  # ports, so stop the ones that the install just started.
  for p in "${need[@]}"; do
    case $p in
      bird2) pkill -x bird 2>/dev/null || true ;;
      prometheus) pkill -x prometheus 2>/dev/null || true ;;
      frr) for d in watchfrr zebra staticd mgmtd; do pkill -x "$d" 2>/dev/null || true; done ;;
    esac
  done
fi

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet

# The library alone (no default features), and each feature alone: an
# embedder with default-features = false must not get the CLI's crates.
cli_crates=$(cargo tree -e normal --no-default-features --prefix none \
  | grep -E '^(clap|clap_complete|clap_mangen|comfy-table|anyhow|tracing-subscriber) ' || true)
if [ -n "$cli_crates" ]; then
  echo "the library without default features pulls CLI crates:"; echo "$cli_crates"; exit 1
fi
cargo clippy --all-targets --no-default-features --quiet -- -D warnings
# (doc tests run in the default build: the crate docs show the director)
cargo test --no-default-features --lib --tests --quiet
cargo clippy --all-targets --no-default-features --features director --quiet -- -D warnings
cargo test --no-default-features --features director --lib --test config --quiet
# Metrics of sessions alone (no director).
cargo clippy --all-targets --no-default-features --features metrics --quiet -- -D warnings
cargo build --no-default-features --features cli --quiet
# Every fuzz target for 8 seconds (about a minute in all, plus the build).
scripts/fuzz.sh 8
CUE_REQUIRE_DAEMONS=1 cargo test
# The Debian package, built, installed with dpkg, used and removed.
scripts/test-package.sh
