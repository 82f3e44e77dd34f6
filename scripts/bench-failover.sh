#!/usr/bin/env bash
# Failover, measured at a real BIRD: route health injection with one VIP
# (192.0.2.10/32) in front of one HTTP backend. Each repetition fails the
# backend and times until BIRD has withdrawn the VIP, then brings it back
# and times until BIRD has it again; the instants at BIRD are its own log
# timestamps (`debug { routes }`, milliseconds).
#
# The backend (python3 -m http.server) runs in a network namespace this
# script creates, at 10.203.0.2 behind a veth pair, so that it can fail in
# two ways:
#   refused  the server is stopped: the namespace's kernel answers RST,
#   dropped  the host stops answering: every packet to it is dropped (an
#            nftables input policy of drop in the namespace), so probes run
#            into their timeout.
# Two timing profiles: the default (interval 2s, timeout 2s, window 5,
# rise 5, fall 4: down after 2 failed probes) and a fast one (interval
# 200ms, timeout 200ms, window 3, rise 3, fall 3: down after 1).
# The goal for a withdrawal is interval x (failed probes needed) + timeout
# + 50 ms at most; for a return, interval x rise + 50 ms.
# Needs root (a namespace), bird2 and nftables.
# Usage: scripts/bench-failover.sh [REPETITIONS] [PORT]   (default 20, port 11795)
#
# With --bfd, the speaker's own failure instead: cue-bgp announces one
# route to a BIRD in the namespace (single-hop BGP over the veth pair, BIRD
# with `bfd on`) and is stopped with SIGSTOP (a hung process: its kernel
# keeps the TCP connection, so only a timer can tell); the time runs from
# the signal until BIRD's log says the route was removed, then SIGCONT and
# the route's return are waited for. Three profiles: no BFD (the hold
# timer, --hold-time 9), BFD at the defaults (300 ms x 3) and at 100 ms x 3.
# Usage: scripts/bench-failover.sh --bfd [REPETITIONS]   (default 10; the
#        hold-timer profile runs 3 of them)
set -euo pipefail
cd "$(dirname "$0")/.."
bfd=0
if [ "${1:-}" = --bfd ]; then bfd=1; shift; fi
reps=${1:-20}
[ "$bfd" = 1 ] && reps=${1:-10}
port=${2:-11795}
[ "$(id -u)" = 0 ] || { echo "needs root: it creates a network namespace" >&2; exit 1; }
command -v bird >/dev/null 2>&1 || [ -x /usr/sbin/bird ] || {
  echo "bird is not installed (apt-get install bird2)" >&2; exit 1; }
[ "$bfd" = 1 ] || command -v nft >/dev/null 2>&1 || {
  echo "nft is not installed (apt-get install nftables)" >&2; exit 1; }

cargo build --release --quiet --bin cue-bgp
work=$(mktemp -d)
ns=cuefo$$
host_if=fo$$a
ns_if=fo$$b
backend=""
cue=""
cleanup() {
  [ -n "$cue" ] && kill "$cue" 2>/dev/null || true
  [ -n "$backend" ] && kill "$backend" 2>/dev/null || true
  [ -f "$work/bird.pid" ] && kill "$(cat "$work/bird.pid")" 2>/dev/null || true
  ip link del "$host_if" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns"
ip link add "$host_if" type veth peer name "$ns_if"
ip link set "$ns_if" netns "$ns"
ip addr add 10.203.0.1/30 dev "$host_if"
ip link set "$host_if" up
ip netns exec "$ns" ip addr add 10.203.0.2/30 dev "$ns_if"
ip netns exec "$ns" ip link set "$ns_if" up
ip netns exec "$ns" ip link set lo up

start_backend() {
  ip netns exec "$ns" python3 -m http.server 8080 --bind 10.203.0.2 >/dev/null 2>&1 &
  backend=$!
  until (exec 3<>/dev/tcp/10.203.0.2/8080) 2>/dev/null; do sleep 0.01; done
}
stop_backend() { kill "$backend"; wait "$backend" 2>/dev/null || true; backend=""; }

# The instant (ns since the epoch) of BIRD's last log line about the VIP
# with WORD ("added", "removed"), once there are more than N of them.
vip_lines() { grep -c "$1.*192.0.2.10/32" "$work/bird.log" || true; }
wait_vip() {
  local word=$1 n=$2 deadline=$(( $(date +%s) + 60 ))
  while [ "$(vip_lines "$word")" -le "$n" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "no '$word' of the route at BIRD within 60 s" >&2; tail -5 "$work/bird.log" >&2; exit 1
    fi
    sleep 0.01
  done
  local ts
  ts=$(grep "$word.*192.0.2.10/32" "$work/bird.log" | tail -n 1 | cut -c1-23)
  TZ=UTC date -d "$ts" +%s%N
}

# Median and worst of the numbers on standard input.
stats() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f ms | %.0f ms", m, v[NR] }'; }

if [ "$bfd" = 1 ]; then
  # BIRD inside the namespace, cue-bgp outside, one hop apart.
  cat > "$work/bird.conf" <<CONF
log "$work/bird.log" all;
timeformat log "%F %T.%3f";
router id 10.203.0.2;
protocol device {}
protocol bfd { interface "$ns_if" { interval 100 ms; multiplier 3; }; }
protocol bgp lb {
  local 10.203.0.2 port 179 as 65001;
  neighbor 10.203.0.1 as 65001;
  passive;
  direct;
  bfd on;
  error wait time 1, 2;
  debug { routes };
  ipv4 { import all; export none; };
}
CONF
  ip netns exec "$ns" bird -c "$work/bird.conf" -s "$work/bird.ctl" -P "$work/bird.pid"
  echo "| profile | detection time | withdrawn at BIRD after SIGSTOP, median | worst | repetitions |"
  echo "|---|---|---|---|---|"
  for profile in hold bfd300 bfd100; do
    case $profile in
      hold) args=(--hold-time 9); n=3; detect="hold time 9 s" ;;
      bfd300) args=(--bfd); n=$reps; detect="300 ms x 3" ;;
      bfd100) args=(--bfd --bfd-interval 100ms); n=$reps; detect="100 ms x 3" ;;
    esac
    added=$(vip_lines added)  # counted before the speaker can add it
    ./target/release/cue-bgp "${args[@]}" --connect-retry 500ms -a 192.0.2.10 \
      65001 10.203.0.1 10.203.0.2 > "$work/cue.out" 2>&1 &
    cue=$!
    wait_vip added "$added" > /dev/null
    : > "$work/down.txt"
    for _ in $(seq 1 "$n"); do
      k=$(vip_lines removed)
      a=$(vip_lines added)
      t0=$(date +%s%N)
      kill -STOP "$cue"
      t1=$(wait_vip removed "$k")
      echo $(( (t1 - t0) / 1000000 )) >> "$work/down.txt"
      kill -CONT "$cue"
      wait_vip added "$a" > /dev/null
    done
    printf "| %s | %s | %s | %d |\n" "$profile" "$detect" "$(stats < "$work/down.txt")" "$n"
    kill "$cue"; wait "$cue" 2>/dev/null || true; cue=""
  done
  exit 0
fi

cat > "$work/bird.conf" <<CONF
log "$work/bird.log" all;
timeformat log "%F %T.%3f";
router id 127.0.0.2;
protocol device {}
protocol bgp lb {
  local 127.0.0.1 port $port as 65001;
  neighbor 127.0.0.1 as 65001;
  passive;
  debug { routes };
  ipv4 { import all; export none; };
}
CONF
bird -c "$work/bird.conf" -s "$work/bird.ctl" -P "$work/bird.pid"

echo "| profile | failure | goal: withdrawn within | withdrawn at BIRD, median | worst | goal: back within | back at BIRD, median | worst |"
echo "|---|---|---|---|---|---|---|---|"
for profile in default fast; do
  case $profile in
    default) timing=''; interval=2000; timeout=2000; failures=2; rise=5 ;;
    fast) timing=', "interval": "200ms", "timeout": "200ms", "window": 3, "rise": 3, "fall": 3'
      interval=200; timeout=200; failures=1; rise=3 ;;
  esac
  cat > "$work/services.json" <<JSON
{"services": [{"address": "192.0.2.10", "port": 80, "protocol": "tcp",
  "destinations": [{"address": "10.203.0.2", "port": 8080,
    "checks": [{"type": "http", "path": "/"$timing}]}]}]}
JSON
  start_backend
  added=$(vip_lines added)
  ./target/release/cue-bgp --services "$work/services.json" --port "$port" \
    65001 127.0.0.1 127.0.0.1 > "$work/cue.out" 2>&1 &
  cue=$!
  wait_vip added "$added" > /dev/null
  for failure in refused dropped; do
    : > "$work/down.txt"; : > "$work/up.txt"
    for _ in $(seq 1 "$reps"); do
      n=$(vip_lines removed)
      t0=$(date +%s%N)
      if [ "$failure" = refused ]; then stop_backend
      else ip netns exec "$ns" nft -f - <<'NFT'
table inet failover {
  chain input {
    type filter hook input priority 0; policy drop;
  }
}
NFT
      fi
      t1=$(wait_vip removed "$n")
      echo $(( (t1 - t0) / 1000000 )) >> "$work/down.txt"
      n=$(vip_lines added)
      if [ "$failure" = refused ]; then start_backend
      else ip netns exec "$ns" nft delete table inet failover; fi
      t2=$(date +%s%N)
      t3=$(wait_vip added "$n")
      echo $(( (t3 - t2) / 1000000 )) >> "$work/up.txt"
    done
    printf "| %s | %s | %d ms | %s | %d ms | %s |\n" "$profile" "$failure" \
      $(( interval * failures + timeout + 50 )) "$(stats < "$work/down.txt")" \
      $(( interval * rise + 50 )) "$(stats < "$work/up.txt")"
  done
  kill "$cue"; wait "$cue" 2>/dev/null || true; cue=""
  stop_backend
done
echo
echo "($reps repetitions each; times from the failure or the return to BIRD's log line)"
