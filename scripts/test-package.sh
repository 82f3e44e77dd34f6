#!/usr/bin/env bash
# Builds the Debian package (scripts/package.sh), installs it with dpkg,
# and uses it as an operator would: the installed cue-bgp runs its demo,
# `man cue-bgp` shows the manual, the completions and the unit file are in
# place; then removes it. Needs root (or sudo) for dpkg.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
deb=$(scripts/package.sh)
echo "package: $deb"
dpkg-deb --field "$deb" Package Version Depends
$sudo dpkg -i "$deb" >/dev/null
trap '$sudo dpkg -r cue-bgp >/dev/null 2>&1 || true' EXIT
test "$(command -v cue-bgp)" = /usr/bin/cue-bgp
/usr/bin/cue-bgp demo > /tmp/cue-bgp-demo.$$ 2>&1 || {
  cat /tmp/cue-bgp-demo.$$; rm -f /tmp/cue-bgp-demo.$$; echo "the installed demo failed" >&2; exit 1; }
grep -q ESTABLISHED /tmp/cue-bgp-demo.$$ || {
  cat /tmp/cue-bgp-demo.$$; rm -f /tmp/cue-bgp-demo.$$; echo "the installed demo brought up no session" >&2; exit 1; }
rm -f /tmp/cue-bgp-demo.$$
MANPAGER=cat man cue-bgp 2>/dev/null | grep -q -- "--advertise-file" || {
  echo "man cue-bgp does not show the manual" >&2; exit 1; }
for f in /usr/share/bash-completion/completions/cue-bgp /usr/share/zsh/vendor-completions/_cue-bgp \
         /usr/share/fish/vendor_completions.d/cue-bgp.fish /lib/systemd/system/cue-bgp.service \
         /usr/share/doc/cue-bgp/examples/services.json; do
  test -s "$f" || { echo "$f is not installed" >&2; exit 1; }
done
echo "package ok: installed, demo run, manual and completions in place"
