#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, clippy and rustdoc gates,
# unit and property tests, and the integration tests against real BGP
# daemons (BIRD 2 and GoBGP), which are installed with apt-get when missing
# and are then mandatory (CUE_REQUIRE_DAEMONS=1).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v bird >/dev/null 2>&1 || [ -x /usr/sbin/bird ] || need+=(bird2)
command -v gobgpd >/dev/null 2>&1 || need+=(gobgpd)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} with apt-get"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Packages may start a daemon of their own; the tests use their own ports,
# so it does no harm, but it is not ours to leave running.
pkill -x bird 2>/dev/null || true

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
CUE_REQUIRE_DAEMONS=1 cargo test
