#!/usr/bin/env bash
# The Debian package: the release binary, its man page and completions
# (bash, zsh, fish), the systemd unit (installed, not enabled) and the
# sample configurations, built with cargo-deb (installed with cargo when
# missing). Prints the path of the .deb.
# Usage: scripts/package.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked --quiet
cargo build --release --quiet --bin cue-bgp
mkdir -p target/package
bin=target/release/cue-bgp
"$bin" manpage | gzip -9n > target/package/cue-bgp.1.gz
"$bin" completions bash > target/package/cue-bgp.bash
"$bin" completions zsh > target/package/_cue-bgp
"$bin" completions fish > target/package/cue-bgp.fish
cargo deb --no-build --quiet | tail -1
