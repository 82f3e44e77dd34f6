#!/usr/bin/env bash
# Announces 1,000,000 host routes (500,000 IPv4 /32 and 500,000 IPv6 /128)
# from cue-bgp to a BIRD on loopback and reports, per run:
#   - the time from starting cue-bgp (file parsing included) until BIRD
#     holds every route, and from the session coming up (after the file is
#     read and the Loc-RIB built; the first UPDATE follows) until then,
#   - the peak resident memory of cue-bgp (VmHWM),
#   - BIRD's own limit: the same routes pre-encoded before connecting and
#     written in one go (examples/replay_updates.rs), timed from the first
#     byte until BIRD holds them all.
# Two tables: every route with the command line's attributes, then the same
# routes spread over 10,000 attribute sets of their own (route i has set
# i mod 10000: a MED, a community and a two-AS path each), so that routes
# next to each other never share one.
# A third table: a 1M-route TABLE_DUMP_V2 RIB dump with realistic
# attributes (varied AS_PATHs, communities; examples/mrt_rib.rs writes it),
# announced with --advertise-mrt.
# Usage: scripts/bench-bird.sh [RUNS] [PORT]     (default 3 runs, port 11790)
# The last column is the run's ratio: start to all routes over BIRD alone,
# measured one right after the other.
# TABLES="routes routes-10k rib" picks the tables; CUE=PATH measures another
# cue-bgp build.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
port=${2:-11790}
command -v bird >/dev/null 2>&1 || [ -x /usr/sbin/bird ] || {
  echo "bird is not installed (apt-get install bird2)" >&2; exit 1; }

cargo build --release --quiet --bin cue-bgp --example replay_updates --example mrt_rib
work=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  if [ -f "$work/bird.pid" ]; then
    pid=$(cat "$work/bird.pid")
    kill "$pid" 2>/dev/null || true
    # BIRD writes its log and removes its socket as it exits: wait for it.
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

awk 'BEGIN {
  for (i = 0; i < 500000; i++) printf "10.%d.%d.%d\n", int(i / 65536), int(i / 256) % 256, i % 256;
  for (i = 0; i < 500000; i++) printf "fd00::%x:%x\n", int(i / 65536), i % 65536;
}' > "$work/routes.txt"
awk 'BEGIN {
  for (i = 0; i < 500000; i++) { k = i % 10000;
    printf "10.%d.%d.%d med %d community 65000:%d as-path %d 420000%04d\n", int(i / 65536), int(i / 256) % 256, i % 256, k, k, 64512 + k % 400, k }
  for (i = 0; i < 500000; i++) { k = i % 10000;
    printf "fd00::%x:%x med %d community 65000:%d as-path %d 420000%04d\n", int(i / 65536), i % 65536, k, k, 64512 + k % 400, k }
}' > "$work/routes-10k.txt"
./target/release/examples/mrt_rib "$work/rib.mrt" 1000000 > /dev/null

cat > "$work/bird.conf" <<CONF
log "$work/bird.log" all;
router id 127.0.0.2;
protocol device {}
protocol bgp lb {
  local 127.0.0.1 port $port as 65001;
  neighbor 127.0.0.1 as 65001;
  passive;
  ipv4 { import all; export none; };
  ipv6 { import all; export none; };
}
CONF

start_bird() {
  if [ -f "$work/bird.pid" ]; then
    pid=$(cat "$work/bird.pid")
    kill "$pid" 2>/dev/null || true
    # A BIRD holding a million routes takes a while to exit.
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  bird -c "$work/bird.conf" -s "$work/bird.ctl" -P "$work/bird.pid"
  until birdc -s "$work/bird.ctl" show status 2>/dev/null | grep -q 'Daemon is up'; do sleep 0.05; done
}

# Prints the time (ns since the epoch) at which BIRD holds all routes;
# fails after a minute (BIRD refused some: its log says why).
wait_full() {
  local deadline=$(( $(date +%s) + 60 ))
  while :; do
    n=$(birdc -s "$work/bird.ctl" show protocols all lb | awk '/Routes:/ {s += $2} END {print s + 0}')
    if [ "$n" -ge 1000000 ]; then date +%s%N; return; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "BIRD holds $n routes after 60 s; its log:" >&2; tail -5 "$work/bird.log" >&2; exit 1
    fi
    sleep 0.01
  done
}

for table in ${TABLES:-routes routes-10k rib}; do
case $table in
  routes) echo "1,000,000 routes, the command line's attributes:"
    file=$work/routes.txt; option=--advertise-file ;;
  routes-10k) echo; echo "1,000,000 routes in 10,000 attribute sets of their own:"
    file=$work/routes-10k.txt; option=--advertise-file ;;
  rib) echo; echo "a 1,000,000-route MRT RIB dump (examples/mrt_rib.rs), --advertise-mrt:"
    file=$work/rib.mrt; option=--advertise-mrt ;;
esac
echo "| run | cue-bgp: start to all routes in BIRD | cue-bgp: session up to all routes | cue-bgp peak RSS, whole run | BIRD alone: pre-encoded UPDATEs | start to all / BIRD alone |"
echo "|---|---|---|---|---|---|"
for run in $(seq 1 "$runs"); do
  start_bird
  # Emptied here, not only by the redirection in the background job (which
  # may come after the first look for its line, and find the last run's).
  : > "$work/cue.out"
  t0=$(date +%s%N)
  "${CUE:-./target/release/cue-bgp}" --port "$port" -m -6 ::1 "$option" "$file" \
    65001 127.0.0.1 127.0.0.1 > "$work/cue.out" 2>&1 &
  cue=$!
  # BIRD can hold nothing before the session is up: poll it only from
  # then on (each birdc takes about 5 ms of CPU, which would otherwise be
  # taken from cue-bgp reading its file, as BIRD alone is polled only once
  # its session is up). POLL_EARLY=1 polls from the start, as before.
  if [ -z "${POLL_EARLY:-}" ]; then
    until grep -q 'state ESTABLISHED' "$work/cue.out"; do
      kill -0 "$cue" 2>/dev/null || { echo "cue-bgp exited:" >&2; cat "$work/cue.out" >&2; exit 1; }
      sleep 0.02
    done
  fi
  t1=$(wait_full)
  # The peak over the whole run: announcing, then withdrawing all at exit.
  sleep 0.2
  kill -TERM "$cue"
  rss=0
  while [ -e "/proc/$cue/status" ]; do
    r=$(awk '/VmHWM/ {print $2}' "/proc/$cue/status" 2>/dev/null || true)
    [ -n "$r" ] && rss=$r
    sleep 0.005
  done
  wait "$cue" || true
  # When the session came up (the first UPDATE follows): what is left once
  # the file is read and the Loc-RIB built.
  up=$(grep -m 1 'state ESTABLISHED' "$work/cue.out" | cut -d' ' -f1)
  te=$(date -d "$up" +%s%N)

  start_bird
  : > "$work/replay.out"
  ./target/release/examples/replay_updates "$port" "$file" > "$work/replay.out" 2>&1 &
  replay=$!
  until grep -q '^sending' "$work/replay.out"; do sleep 0.005; done
  r0=$(awk '/^sending/ {print $2}' "$work/replay.out")
  r1=$(wait_full)
  kill "$replay"; wait "$replay" 2>/dev/null || true

  awk -v run="$run" -v a="$((t1 - t0))" -v e="$((t1 - te))" -v rss="$rss" -v b="$((r1 - r0))" \
    'BEGIN { printf "| %d | %.2f s | %.2f s | %.1f MiB | %.2f s | %.2f |\n", run, a / 1e9, e / 1e9, rss / 1024, b / 1e9, a / b }'
done
done
