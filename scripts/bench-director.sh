#!/usr/bin/env bash
# The director's cost, side by side with HAProxy: N HTTP destinations (100
# per service; addresses 127.0.0.1-100, one port per service), each probed
# once per interval, against one loopback HTTP server: nginx (Debian
# nginx-light, the default) or the in-repo server (examples/bench_http_server.rs).
# Each round runs `cue-bgp check` and then HAProxy (Debian haproxy, one
# thread, `option httpchk`, the same interval) on the same destinations and
# server, one after the other, and reports for each: the checks per second
# the server saw, the checker's CPU (share of one core) over the measured
# window after warm-up, its memory, and the ratio of CPU per check.
# cue-bgp keeps its connections alive between probes; HAProxy opens one per
# check (it has no kept-alive health checks).
#
# Usage: scripts/bench-director.sh [options]
#   --window SECONDS       measured window per checker (default 20)
#   --interval DURATION    probe interval (default 1s)
#   --destinations N       a multiple of 100 (default 10000)
#   --type http|syn        check type (default http; syn: cue-bgp only)
#   --server nginx|cue     the HTTP server (default nginx)
#   --rounds N             rounds of (cue-bgp, HAProxy) (default 1)
#   --no-haproxy           cue-bgp only
#   --perf FILE            record a perf profile of cue-bgp's window to FILE
#   --cue PATH             the cue-bgp binary to measure (default: build this tree's)
#   --syscalls             after cue-bgp's window, count its system calls for 5 s
#                          (perf stat on the syscall tracepoints)
#   --scrape SECONDS       cue-bgp serves --metrics and is scraped (curl, as
#                          Prometheus would) every SECONDS during its window;
#                          reports the size, time and CPU of each scrape
# Only loopback addresses are used. Needs nginx-light and haproxy (installed
# with apt-get when missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
window=20 interval=1s dests=10000 type=http server=nginx rounds=1 haproxy=1 perf="" cue="" syscalls=0 scrape=""
while [ $# -gt 0 ]; do
  case $1 in
    --window) window=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --destinations) dests=$2; shift 2 ;;
    --type) type=$2; shift 2 ;;
    --server) server=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --no-haproxy) haproxy=0; shift ;;
    --perf) perf=$2; shift 2 ;;
    --cue) cue=$2; shift 2 ;;
    --syscalls) syscalls=1; shift ;;
    --scrape) scrape=$2; shift 2 ;;
    *) echo "unknown option $1 (see the head of $0)" >&2; exit 2 ;;
  esac
done
[ $((dests % 100)) = 0 ] && [ "$dests" -ge 100 ] || { echo "--destinations: a multiple of 100" >&2; exit 2; }
[ "$type" = http ] || haproxy=0
services=$((dests / 100))
base_port=20000
status_port=19999

need=()
[ "$server" = nginx ] && ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] && need+=(nginx-light)
[ "$haproxy" = 1 ] && ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ] && need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} with apt-get" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  pkill -x nginx 2>/dev/null || true
  pkill -x haproxy 2>/dev/null || true
fi
export PATH="$PATH:/usr/sbin"

# Every kept-alive connection is a descriptor on both sides: nginx and
# cue-bgp each need one per destination, HAProxy one per check in flight.
fds=$((dests * 2 + 4096))
ulimit -n "$fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((dests + 1024)) ]; then
  echo "$dests destinations need $((dests + 1024)) descriptors; the limit here is $(ulimit -n)" >&2
  exit 1
fi

cargo build --release --quiet --bin cue-bgp --example bench_http_server
cue=${cue:-./target/release/cue-bgp}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

# The server.
if [ "$server" = nginx ]; then
  {
    echo "worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.err warn;"
    echo "worker_rlimit_nofile $(ulimit -n); daemon on;"
    echo "events { worker_connections $((dests + 2048)); }"
    echo "http { access_log off; keepalive_requests 100000000; keepalive_timeout 600s;"
    echo "  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;"
    echo "  uwsgi_temp_path $work; scgi_temp_path $work;"
    echo "  server { listen 127.0.0.1:$status_port; location / { stub_status; } }"
    echo "  server {"
    for s in $(seq 0 $((services - 1))); do echo "    listen $((base_port + s));"; done
    echo "    allow 127.0.0.0/8; deny all;"
    echo '    location / { default_type text/plain; return 200 "ok\n"; }'
    echo "  }"
    echo "}"
  } > "$work/nginx.conf"
  nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx.err"
  until [ -s "$work/nginx.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$status_port") 2>/dev/null; do sleep 0.1; done
  served() {
    # stub_status: the third line holds accepts, handled and requests.
    exec 3<>"/dev/tcp/127.0.0.1/$status_port"
    printf 'GET / HTTP/1.0\r\n\r\n' >&3
    awk 'NR > 1 && /^ *[0-9]+ +[0-9]+ +[0-9]+ *$/ {print $3}' <&3
    exec 3<&-
  }
else
  # Two processes (50 addresses each) keep each under its descriptor limit.
  ./target/release/examples/bench_http_server 1 50 "$base_port" "$services" > "$work/server1.out" &
  pids+=($!)
  ./target/release/examples/bench_http_server 51 100 "$base_port" "$services" > "$work/server2.out" &
  pids+=($!)
  until grep -q listening "$work/server1.out" && grep -q listening "$work/server2.out"; do sleep 0.1; done
  served() {
    echo $(( $(tail -n 1 "$work/server1.out" | awk '{print $2}') + $(tail -n 1 "$work/server2.out" | awk '{print $2}') ))
  }
fi

# The same destinations for both checkers.
{
  echo '{"services": ['
  for s in $(seq 0 $((services - 1))); do
    [ "$s" -gt 0 ] && echo ','
    printf '{"address": "192.0.2.%d", "port": %d, "protocol": "tcp", "destinations": [' \
      "$((s % 250 + 1))" "$((1000 + s))"
    for d in $(seq 0 99); do
      [ "$d" -gt 0 ] && printf ','
      printf '{"address": "127.0.0.%d", "port": %d, "checks": [{"type": "%s", "interval": "%s"}]}' \
        "$((d + 1))" "$((base_port + s))" "$type" "$interval"
    done
    printf ']}'
  done
  echo ']}'
} > "$work/services.json"
ms=$(awk -v i="$interval" 'BEGIN {
  if (i ~ /ms$/) { sub(/ms$/, "", i); print i } else { sub(/s$/, "", i); print i * 1000 } }')
{
  echo "global"
  echo "  nbthread 1"
  # Nothing connects to the proxy itself: a small maxconn keeps HAProxy's
  # descriptor needs (two per connection, one per server's check) in the limit.
  echo "  maxconn 1000"
  echo "defaults"
  echo "  mode http"
  echo "  timeout connect 2s"
  echo "  timeout check 2s"
  echo "  timeout client 10s"
  echo "  timeout server 10s"
  # HAProxy wants a listener; nothing connects to it.
  echo "frontend unused"
  echo "  bind 127.0.0.1:$((status_port - 1))"
  echo "  default_backend s0"
  for s in $(seq 0 $((services - 1))); do
    echo "backend s$s"
    echo "  option httpchk"
    echo "  http-check send meth GET uri / ver HTTP/1.1 hdr Host localhost"
    echo "  default-server check inter ${ms}ms fall 2 rise 5"
    for d in $(seq 1 100); do echo "  server d$d 127.0.0.$d:$((base_port + s))"; done
  done
} > "$work/haproxy.cfg"

ticks=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rows=()

# Measures process $1 (named $2) over the window: one table row.
measure() {
  local pid=$1 name=$2 c0 s0 t0 c1 s1 t1 rss hwm perf_pid=""
  c0=$(cpu_of "$pid"); s0=$(served); t0=$(date +%s%N)
  if [ -n "$perf" ] && [ "$name" = cue-bgp ]; then
    perf record --call-graph "${PERF_CALLGRAPH:-fp}" ${PERF_EVENT:+-e "$PERF_EVENT"} -F 999 -p "$pid" -o "$perf" -- sleep "$window" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  sleep "$window"
  c1=$(cpu_of "$pid"); s1=$(served); t1=$(date +%s%N)
  [ -n "$perf_pid" ] && wait "$perf_pid" || true
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  rows+=("$(awk -v c="$((c1 - c0))" -v hz="$ticks" -v s="$((s1 - s0))" -v ns="$((t1 - t0))" \
    -v rss="$rss" -v hwm="$hwm" -v name="$name" 'BEGIN {
    sec = ns / 1e9; cpu = 100 * c / hz / sec; rate = s / sec
    printf "%s|%.0f|%.1f|%.1f|%.1f|%.2f", name, rate, cpu, rss / 1024, hwm / 1024, (rate > 0 ? cpu / rate * 10000 : 0)
  }')")
}

# Scrapes cue-bgp's metrics every $scrape seconds until killed; one line
# per scrape: bytes, seconds, and cue-bgp's CPU ticks over the scrape.
scraper() {
  local pid=$1 c0 c1
  while sleep "$scrape"; do
    c0=$(cpu_of "$pid")
    curl -s -o /dev/null -H 'Accept: application/openmetrics-text; version=1.0.0' \
      -w '%{size_download} %{time_total}' "http://127.0.0.1:$metrics_port/metrics" || break
    c1=$(cpu_of "$pid")
    echo " $((c1 - c0))"
  done
}
metrics_port=$((status_port - 2))

run_cue() {
  local metrics=()
  [ -n "$scrape" ] && metrics=(--metrics "127.0.0.1:$metrics_port")
  "$cue" check "${metrics[@]}" "$work/services.json" > "$work/check.out" 2>&1 &
  local cue=$!
  pids+=("$cue")
  # Warm-up: every service up (5 passes each), connections established.
  for _ in $(seq 1 120); do
    [ "$(grep -c 'tcp up (' "$work/check.out" || true)" -ge "$services" ] && break
    sleep 1
  done
  sleep 3
  local scraping=""
  if [ -n "$scrape" ]; then
    scraper "$cue" > "$work/scrapes" &
    scraping=$!
  fi
  measure "$cue" cue-bgp
  if [ -n "$scraping" ]; then
    kill "$scraping" 2>/dev/null; wait "$scraping" 2>/dev/null || true
    # The director's own CPU over the scrape's time is counted in too (it
    # runs meanwhile): an upper bound of the scrape's CPU.
    awk -v hz="$ticks" '{ n++; b += $1; t += $2; c += $3 }
      END { if (n) printf "%d scrapes: %.1f MB each, %.3f s each, %.3f s of cue-bgp CPU each (upper bound)\n", n, b / n / 1e6, t / n, c / n / hz }' \
      "$work/scrapes" >&2
  fi
  if [ "$syscalls" = 1 ]; then
    local events
    events=$(printf 'syscalls:sys_enter_%s,' sendto recvfrom write read epoll_wait futex mprotect brk madvise mmap munmap connect close)
    perf stat -x, -e "${events}context-switches" -p "$cue" -o "$work/syscalls.csv" -- sleep 5 >/dev/null 2>&1 || true
    # Each HTTP probe sends one request: sendto counts the probes.
    echo "system calls of cue-bgp over 5 s (perf stat), per HTTP probe (per sendto):" >&2
    awk -F, '$3 ~ /syscalls:sys_enter_|context-switches/ { sub(/syscalls:sys_enter_/, "", $3); c[$3] = $1; o[++k] = $3; if ($3 != "context-switches") t += $1 }
      END { n = c["sendto"]; if (n > 0) { for (i = 1; i <= k; i++) if (c[o[i]] > 0)
        printf "  %-12s %8d  %.3f per probe\n", o[i], c[o[i]], c[o[i]] / n
        printf "  %-12s %8d  %.3f per probe\n", "system calls", t, t / n } }' \
      "$work/syscalls.csv" >&2
  fi
  kill "$cue"; wait "$cue" 2>/dev/null || true
}

run_haproxy() {
  haproxy -f "$work/haproxy.cfg" -db > "$work/haproxy.out" 2>&1 &
  local hap=$!
  pids+=("$hap")
  # Warm-up: every server through its first rise (5 intervals) and settled.
  sleep "$(awk -v ms="$ms" 'BEGIN { print ms * 6 / 1000 + 3 }')"
  measure "$hap" haproxy
  kill "$hap"; wait "$hap" 2>/dev/null || true
}

for _ in $(seq 1 "$rounds"); do
  run_cue
  [ "$haproxy" = 1 ] && run_haproxy
  sleep 2
done

echo "| checker | destinations | type | interval | server | checks/s (server count) | CPU (one core = 100%) | RSS | peak RSS | CPU per 10,000 checks/s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do
  IFS='|' read -r name rate cpu rss hwm per <<< "$r"
  # SYN probes are answered by the kernel: the server counts none.
  [ "$type" = syn ] && rate="(not counted)" && per="-"
  echo "| $name | $dests | $type | $interval | $server | $rate | $cpu% | $rss MiB | $hwm MiB | $per$([ "$per" = - ] || echo %) |"
done
if [ "$haproxy" = 1 ]; then
  printf '%s\n' "${rows[@]}" | awk -F'|' '
    $1 == "cue-bgp" { c += $6; nc++ } $1 == "haproxy" { h += $6; nh++ }
    END { if (nc && nh && c > 0) printf "HAProxy spends %.2fx the CPU of cue-bgp per check (mean of %d and %d runs)\n", (h / nh) / (c / nc), nc, nh }'
fi
