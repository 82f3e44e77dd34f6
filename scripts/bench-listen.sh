#!/usr/bin/env bash
# The receiving side alone: how fast `cue-bgp listen` takes a pre-encoded
# blast of ROUTES IPv4 /24s (about 1,000 per UPDATE, written in one go by a
# small Python peer on loopback), and what checking them costs:
#   - listen alone: the blast ends with a message of an unknown type, which
#     listen answers with a NOTIFICATION once it has applied everything
#     before it; the time is from the first byte of the blast to that
#     NOTIFICATION;
#   - listen --expect LAST: one expectation (the blast's last prefix);
#   - listen --expect-file ALL: every prefix of the blast expected;
# the last two end when listen has seen what it expects and closes the
# session. Reported per run: that time, and listen's CPU (user + system)
# and peak RSS for the whole process (the expect file's parse included).
# Usage: scripts/bench-listen.sh [ROUTES] [RUNS] [PORT]
#        (default 1,000,000 routes, 3 runs, port 11900)
set -euo pipefail
cd "$(dirname "$0")/.."
routes=${1:-1000000}
runs=${2:-3}
port=${3:-11900}
cargo build --release --quiet --bin cue-bgp
work=$(mktemp -d)
trap 'pkill -P $$ 2>/dev/null; for j in $(jobs -p); do pkill -P "$j"; done 2>/dev/null; rm -rf "$work"' EXIT

# The blast and the expect file, built once.
python3 - "$routes" "$work" <<'PY'
import struct, sys
n, work = int(sys.argv[1]), sys.argv[2]
def msg(t, body):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), t) + body
attrs = bytes([0x40, 1, 1, 0]) + bytes([0x40, 2, 6, 2, 1]) + struct.pack("!I", 65001) \
    + bytes([0x40, 3, 4, 127, 0, 0, 1])
per = (4096 - 19 - 4 - len(attrs)) // 4
out, lines, base = bytearray(), [], 32 << 24
for start in range(0, n, per):
    nlri = bytearray()
    for i in range(start, min(n, start + per)):
        a = base + (i << 8)
        nlri += struct.pack("!B", 24) + struct.pack("!I", a)[:3]
    out += msg(2, struct.pack("!H", 0) + struct.pack("!H", len(attrs)) + attrs + bytes(nlri))
for i in range(n):
    a = base + (i << 8)
    lines.append("%d.%d.%d.0/24" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255))
open(work + "/blast", "wb").write(out)
open(work + "/expect.txt", "w").write("\n".join(lines) + "\n")
open(work + "/last", "w").write(lines[-1])
PY

cat > "$work/peer.py" <<'PY'
import socket, struct, sys, time
port, blast = int(sys.argv[1]), open(sys.argv[2], "rb").read()
def msg(t, body):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), t) + body
if sys.argv[3] == "end":
    blast += msg(99, b"")  # unknown type: a NOTIFICATION once all before it is applied
deadline = time.time() + 60
while True:
    try:
        s = socket.create_connection(("127.0.0.2", port), source_address=("127.0.0.3", 0))
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("listen did not come up")
        time.sleep(0.02)
caps = bytes([2, 6, 65, 4]) + struct.pack("!I", 65001)
s.sendall(msg(1, struct.pack("!BHH4sB", 4, 23456, 0, bytes([127, 0, 0, 3]), len(caps)) + caps))
s.sendall(msg(4, b""))
buf = b""
def message():
    """The next message's type, or None at the end of the stream."""
    global buf
    while len(buf) < 19 or len(buf) < struct.unpack("!H", buf[16:18])[0]:
        data = s.recv(65536)
        if not data:
            return None
        buf += data
    n, t = struct.unpack("!HB", buf[16:19])
    buf = buf[n:]
    return t
while message() != 4:  # its OPEN, then its KEEPALIVE
    pass
t0 = time.monotonic()
s.sendall(blast)
while message() not in (3, None):  # its NOTIFICATION, or the close
    pass
print("%.3f" % (time.monotonic() - t0))
PY

run() { # label, end|open, listen arguments...
  local label=$1 end=$2; shift 2
  for r in $(seq "$runs"); do
    /usr/bin/time -f "%U %S %M" -o "$work/time" target/release/cue-bgp listen 65000 127.0.0.2 \
      --bind 127.0.0.2 --port "$port" --hold-time 0 "$@" >/dev/null 2>"$work/err" &
    local pid=$!
    local secs
    secs=$(python3 "$work/peer.py" "$port" "$work/blast" "$end")
    # $pid is time's: stop listen, its child.
    pkill -TERM -P "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    read -r user sys rss < <(tail -1 "$work/time")
    printf '%-34s run %d: %6.3f s   cpu %5.2f s   peak RSS %4d MiB\n' "$label" "$r" "$secs" \
      "$(echo "$user + $sys" | bc)" $((rss / 1024))
  done
}

echo "$routes routes in one blast, $runs runs each"
run "listen alone" end
run "listen --expect LAST" open --expect "$(cat "$work/last")" --timeout 120s
run "listen --expect-file ALL" open --expect-file "$work/expect.txt" --timeout 120s
