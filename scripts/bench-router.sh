#!/usr/bin/env bash
# BIRD as a router under test of `cue-bgp scenario`: PEERS emulated peers
# (dynamic neighbours) x ROUTES routes each, one observer; announce all,
# wait until converged, withdraw all, wait until converged. Reports, per
# run:
#   - the time until every session was established (from cue-bgp's start),
#   - the time from the announce step to convergence at the observer, and
#     from cue-bgp's start until BIRD holds every route (BIRD polled; a
#     BIRD busy importing answers birdc late, so this is an upper bound),
#   - the latency of an announcement and of a withdrawal through BIRD
#     (p50/p99, write to receipt at the observer),
#   - cue-bgp's CPU time (user + system) and peak RSS (VmHWM) for the run.
# A second scenario sends the same number of routes from one peer.
# Then the same trip without cue-bgp, so that its figure can be trusted:
# a feeder BIRD (one session, from the peers' range) and an observer BIRD
# around the same router BIRD; the feeder's static routes (the same number)
# are enabled at once, and the time until the observer BIRD holds all of
# them is polled (every 20 ms; the feeder's own import of its static
# routes is in that time). The same is printed for cue-bgp's one peer, from
# its report (the announce step to convergence at its observer).
# Usage: scripts/bench-router.sh [PEERS] [ROUTES] [RUNS] [PORT]
#        (default 1000 peers x 1000 routes, 1 run, port 11800)
set -euo pipefail
cd "$(dirname "$0")/.."
peers=${1:-1000}
routes=${2:-1000}
runs=${3:-1}
port=${4:-11800}
command -v bird >/dev/null 2>&1 || [ -x /usr/sbin/bird ] || {
  echo "bird is not installed (apt-get install bird2)" >&2; exit 1; }
# A socket per session on each side: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((peers + 64)) ]; then
  echo "open files limit $(ulimit -n) is too low for $peers peers" >&2; exit 1
fi
cargo build --release --quiet --bin cue-bgp
work=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  for f in feeder watcher; do
    [ -f "$work/$f.pid" ] && kill "$(cat "$work/$f.pid")" 2>/dev/null || true
  done
  if [ -f "$work/bird.pid" ]; then
    pid=$(cat "$work/bird.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Peers from 127.0.1.1 on (127.0.0.0/16 holds 65,000 of them); the
# observer outside that range.
cat > "$work/bird.conf" <<CONF
log "$work/bird.log" { warning, error, fatal };
router id 127.0.0.1;
protocol device {}
protocol bgp peers {
  local 127.0.0.1 port $port as 65000;
  neighbor range 127.0.0.0/16 external;
  dynamic name "peer";
  passive on;
  multihop;
  ipv4 { import all; export none; };
}
protocol bgp observer {
  local 127.0.0.1 port $port as 65000;
  neighbor 127.1.0.250 as 65200;
  passive on;
  multihop;
  ipv4 { import none; export all; next hop self; };
}
CONF

scenario() { # PEERS ROUTES-PER-PEER LENGTH
  cat <<TOML
router = { address = "127.0.0.1", port = $port, as = 65000 }
hold_time = 240
establish_timeout = "120s"
converge_timeout = "300s"
[[peers]]
count = $1
local = "127.0.1.1"
as = 65100
as_step = 0
routes = "10.0.0.0/8 /$3 $2"
[[observers]]
local = "127.1.0.250"
as = 65200
[[steps]]
announce = "all"
[[steps]]
wait = "converged"
[[steps]]
wait = "10s"
[[steps]]
withdraw = "all"
[[steps]]
wait = "converged"
TOML
}
total=$((peers * routes))
# The prefix length that holds the routes in 10.0.0.0/8.
len=8
while [ $((1 << (len - 8))) -lt "$total" ]; do len=$((len + 1)); done
scenario "$peers" "$routes" "$len" > "$work/many.toml"
scenario 1 "$total" "$len" > "$work/one.toml"

start_bird() {
  if [ -f "$work/bird.pid" ]; then
    pid=$(cat "$work/bird.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  bird -c "$work/bird.conf" -s "$work/bird.ctl" -P "$work/bird.pid"
  until birdc -s "$work/bird.ctl" show status 2>/dev/null | grep -q 'Daemon is up'; do sleep 0.05; done
}

# Polls BIRD's route count every 20 ms; prints the time (ns since the
# epoch) at which it holds $total routes (the scenario waits 10 s there),
# or 0 when cue-bgp is gone first.
poll_bird() {
  while kill -0 "$1" 2>/dev/null; do
    n=$(birdc -s "$work/bird.ctl" show route count 2>/dev/null | awk '/routes for/ {print $1; exit}')
    if [ "${n:-0}" -ge "$total" ]; then date +%s%N; return; fi
    sleep 0.02
  done
  echo 0
}

echo "| run | peers x routes | established | converged at the observer | BIRD holds all, from start | announce p50 / p99 | withdraw p50 / p99 | cue-bgp CPU | cue-bgp peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
for run in $(seq "$runs"); do
  for kind in many one; do
    start_bird
    start=$(date +%s%N)
    ./target/release/cue-bgp scenario --json "$work/$kind.toml" > "$work/report.json" 2> "$work/cue.err" &
    cue=$!
    poll_bird "$cue" > "$work/poll.out" &
    poller=$!
    hwm=0 cpu=0
    tick=$(getconf CLK_TCK)
    while kill -0 "$cue" 2>/dev/null; do
      h=$(awk '/VmHWM/ {print $2}' "/proc/$cue/status" 2>/dev/null || echo 0)
      c=$(awk '{print $14 + $15}' "/proc/$cue/stat" 2>/dev/null || echo 0)
      [ "${h:-0}" -gt "$hwm" ] && hwm=$h
      [ "${c:-0}" -gt "$cpu" ] && cpu=$c
      sleep 0.1
    done
    wait "$cue" || { echo "cue-bgp failed:" >&2; cat "$work/cue.err" >&2; exit 1; }
    wait "$poller" || true
    read -r full < "$work/poll.out"
    label="$peers x $routes"; [ "$kind" = one ] && label="1 x $total"
    python3 - "$work/report.json" "$run" "$label" "$start" "$full" "$cpu" "$tick" "$hwm" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
run, label, start, full, cpu, tick, hwm = sys.argv[2:]
bird = (int(full) - int(start)) / 1e9 if int(full) else float("nan")
a, w = r["announce"], r["withdraw"]
print(f"| {run} | {label} | {r['established_s']:.2f} s | {r['steps'][1].get('converged_s', float('nan')):.2f} s "
      f"| {bird:.2f} s | {a['p50_ms']:.0f} / {a['p99_ms']:.0f} ms | {w['p50_ms']:.0f} / {w['p99_ms']:.0f} ms "
      f"| {int(cpu) / int(tick):.1f} s | {int(hwm) / 1024:.0f} MiB |")
if a["missing"] or w["missing"] or not r["passed"]:
    print(f"  (missing: {a['missing']} announcements, {w['missing']} withdrawals; passed: {r['passed']})")
PY
  done
done

# BIRD to BIRD: the same router, a feeder BIRD in the peers' range and an
# observer BIRD where cue-bgp's observer was.
cat > "$work/feeder.conf" <<CONF
log "$work/feeder.log" { warning, error, fatal };
router id 127.0.1.1;
protocol device {}
protocol static feed {
  disabled;
  ipv4;
  include "$work/static.conf";
}
protocol bgp up {
  local 127.0.1.1 port $((port + 1)) as 65100;
  neighbor 127.0.0.1 port $port as 65000;
  multihop;
  ipv4 { import none; export all; };
}
CONF
cat > "$work/watcher.conf" <<CONF
log "$work/watcher.log" { warning, error, fatal };
router id 127.1.0.250;
protocol device {}
protocol bgp up {
  local 127.1.0.250 port $((port + 2)) as 65200;
  neighbor 127.0.0.1 port $port as 65000;
  multihop;
  ipv4 { import all; export none; };
}
CONF
python3 - "$total" "$len" > "$work/static.conf" <<'PY'
import sys
n, length = int(sys.argv[1]), int(sys.argv[2])
step = 1 << (32 - length)
for i in range(n):
    a = (10 << 24) + i * step
    print("route %d.%d.%d.%d/%d blackhole;" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, length))
PY
count_at() { # control socket
  birdc -s "$1" show route count 2>/dev/null | awk '/routes for/ {print $1; exit}'
}
stop_bird() { # pid file
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$1"
}
echo
echo "| run | the same trip, BIRD to BIRD | 1 x $total converged at the observer BIRD |"
echo "|---|---|---|"
for run in $(seq "$runs"); do
  start_bird
  bird -c "$work/watcher.conf" -s "$work/watcher.ctl" -P "$work/watcher.pid"
  bird -c "$work/feeder.conf" -s "$work/feeder.ctl" -P "$work/feeder.pid"
  for who in feeder watcher; do
    until birdc -s "$work/$who.ctl" show protocols up 2>/dev/null | grep -q Established; do sleep 0.05; done
  done
  start=$(date +%s%N)
  birdc -s "$work/feeder.ctl" enable feed > /dev/null
  until [ "$(count_at "$work/watcher.ctl")" = "$total" ]; do sleep 0.02; done
  end=$(date +%s%N)
  printf '| %d | feeder BIRD -> router BIRD -> observer BIRD | %.2f s |\n' "$run" \
    "$(echo "($end - $start) / 1000000000" | bc -l)"
  stop_bird "$work/feeder.pid"
  stop_bird "$work/watcher.pid"
done
