#!/usr/bin/env bash
# bench/ingest: how fast does `POST /api/events` accept 1.5 KB CloudEvents, durably (fsync),
# with durability: os, and against a control endpoint in the same server that parses the same
# body and answers 202 without journaling? Drives each with wrk at 16 and 64 connections,
# interleaving the modes round by round (the disk's fsync rate swings within minutes), and
# reports events/s, p50/p99, peak RSS, and the ratios durable/control and os/control.
#
# Usage: bench/ingest/run.sh [path/to/rouse]      (or ROUSE=path/to/rouse bench/ingest/run.sh)
# Knobs (environment): DURATION=10 (s per measurement), WARMUP=2 (s), ROUNDS=2,
#   CONNS="16 64", THREADS=2 (wrk threads), HTTP_THREADS=1 (rouse node.http_threads),
#   DATA_ROOT=<repo>/build/bench-data (must be on the real disk, not tmpfs).
# Every measurement gets a fresh server and data dir, removed afterwards. The control runs on
# a durability: os server started with --bench-control and posts to /api/_bench/accept.
# Output: one `mode=... conns=... rps=...` line per measurement, a summary table of medians,
# and `TARGET durable>=0.75*control: PASS|FAIL`. Exit status 1 if a measurement was invalid
# (unexpected non-2xx, duplicates, socket errors), 2 if the harness itself failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rouse="${1:-${ROUSE:-$here/../../build/runtime/daemon/rouse}}"
duration="${DURATION:-10}"
warmup="${WARMUP:-2}"
rounds="${ROUNDS:-2}"
conns_list="${CONNS:-16 64}"
wrk_threads="${THREADS:-2}"
http_threads="${HTTP_THREADS:-1}"
data_root="${DATA_ROOT:-$root/build/bench-data}"
modes="fsync os control"
target_ratio=0.75
script="$here/post_event.lua"

die() { echo "run.sh: $*" >&2; exit 2; }

[[ -x "$rouse" ]] || die "no rouse binary at $rouse (build it: cmake --build build --target rouse)"
rouse="$(cd "$(dirname "$rouse")" && pwd)/$(basename "$rouse")"
if ! command -v wrk >/dev/null; then
  echo "run.sh: installing wrk" >&2
  if [[ $(id -u) -eq 0 ]]; then apt-get install -y wrk >&2; else sudo apt-get install -y wrk >&2; fi
fi
command -v curl >/dev/null || die "curl is required"

mkdir -p "$data_root"
work="$(mktemp -d "$data_root/ingest.XXXXXX")"
fs_type="$(df --output=fstype "$work" | tail -1 | tr -d ' ')"
fs_dev="$(df --output=source "$work" | tail -1 | tr -d ' ')"
[[ "$fs_type" == tmpfs || "$fs_type" == ramfs ]] &&
  die "$data_root is on $fs_type; fsync would be free there. Set DATA_ROOT to a real disk."
dev_name="$(basename "$fs_dev")"
rotational="$(cat "/sys/block/$dev_name/queue/rotational" 2>/dev/null || echo '?')"

server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a server in $1 (fsync|os) mode with data dir $2; sets server_pid and port.
start_server() {
  local durability="$1" dir="$2"
  mkdir -p "$dir"
  cat >"$dir.yaml" <<EOF
# Ingest only: no triggers.
node:
  name: bench-ingest
  data_dir: $dir
  listen: 127.0.0.1:0
  durability: $durability
  http_threads: $http_threads
  map_size: 8GiB
EOF
  "$rouse" serve -c "$dir.yaml" --bench-control 2>"$dir.log" &
  server_pid=$!
  port=""
  for _ in $(seq 100); do
    port="$(grep -o 'serving http://127.0.0.1:[0-9]*' "$dir.log" 2>/dev/null | sed 's/.*://' || true)"
    [[ -n "$port" ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$dir.log" >&2; die "rouse exited at start"; }
    sleep 0.1
  done
  cat "$dir.log" >&2
  die "rouse did not report its port within 10 s"
}

stop_server() {
  kill -TERM "$server_pid"
  local rc=0
  wait "$server_pid" || rc=$?
  server_pid=""
  [[ $rc -eq 0 ]] || echo "run.sh: warning: rouse exited with status $rc" >&2
}

# Prints after - before of the metric whose name (with labels) is $3, from the metrics texts
# $1 (before) and $2 (after); a metric not yet rendered counts as 0.
delta() {
  awk -v n="$3" 'NR == FNR { if ($1 == n) b = $2; next } $1 == n { a = $2 }
    END { printf "%.10g\n", a - b }' <(echo "$1") <(echo "$2")
}

# Prints the utime+stime clock ticks of every thread of $server_pid as "tid comm ticks".
thread_ticks() {
  local t
  for t in /proc/"$server_pid"/task/*; do
    # comm may hold spaces; fields after the closing ")" start at state (field 3).
    awk -v tid="$(basename "$t")" -v comm="$(cat "$t/comm")" \
      '{ sub(/.*\) /, ""); print tid, comm, $12 + $13 }' "$t/stat" 2>/dev/null || true
  done
}

# Converts a wrk latency ("812.00us", "3.41ms", "1.02s") to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "nan" }'
}

hz="$(getconf CLK_TCK)"
results="$work/results.txt"
: >"$results"
invalid=0
tag_base="$(date +%s)-$$"

# Runs one measurement: mode $1, connections $2, round $3.
measure() {
  local mode="$1" conns="$2" round="$3"
  local durability="$mode" path="/api/events"
  if [[ $mode == control ]]; then durability=os; path="/api/_bench/accept"; fi
  local dir="$work/r$round-$mode-c$conns"
  start_server "$durability" "$dir"
  local url="http://127.0.0.1:$port$path"

  wrk -t"$wrk_threads" -c"$conns" -d"${warmup}s" -s "$script" "$url" \
    -- "$tag_base-r$round-$mode-c$conns-warm" >/dev/null
  local before after ticks_before ticks_after out
  before="$(curl -sf "http://127.0.0.1:$port/metrics")" || die "mode=$mode: GET /metrics failed"
  ticks_before="$(thread_ticks)"
  local t0 t1
  t0="$(date +%s.%N)"
  out="$(wrk -t"$wrk_threads" -c"$conns" -d"${duration}s" --latency -s "$script" "$url" \
    -- "$tag_base-r$round-$mode-c$conns")"
  t1="$(date +%s.%N)"
  ticks_after="$(thread_ticks)"
  sleep 0.2 # let commits of requests still in flight when wrk stopped land
  kill -0 "$server_pid" 2>/dev/null || { tail "$dir.log" >&2; die "mode=$mode: rouse died under load"; }
  after="$(curl -sf "http://127.0.0.1:$port/metrics")" || die "mode=$mode: GET /metrics failed"
  local rss_kb anon_kb
  rss_kb="$(awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status")"
  anon_kb="$(awk '/^RssAnon:/ { print $2 }' "/proc/$server_pid/status")"
  stop_server
  echo "$out" >"$dir.wrk"

  local rps p50 p99 non2xx sock_err requests
  rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
  p50="$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")"
  p99="$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")"
  non2xx="${non2xx:-0}"
  requests="$(awk '/requests in/ { print $1 }' <<<"$out")"
  sock_err="$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' <<<"$out")"
  sock_err="${sock_err:-0}"

  # Journal figures over the measured window only (the warm-up is subtracted).
  local d_seq d_commits d_sum d_dup d_recv per_commit commit_ms
  d_seq="$(delta "$before" "$after" rouse_journal_last_seq)"
  d_commits="$(delta "$before" "$after" rouse_journal_commit_seconds_count)"
  d_sum="$(delta "$before" "$after" rouse_journal_commit_seconds_sum)"
  d_dup="$(delta "$before" "$after" 'rouse_events_duplicate_total{source="api"}')"
  d_recv="$(delta "$before" "$after" 'rouse_events_received_total{source="api"}')"
  per_commit="$(awk -v s="$d_seq" -v c="$d_commits" 'BEGIN { printf "%.1f", c ? s / c : 0 }')"
  commit_ms="$(awk -v s="$d_sum" -v c="$d_commits" 'BEGIN { printf "%.3f", c ? 1000 * s / c : 0 }')"

  # Server CPU over the measured window, in % of one core, total and the busiest threads.
  local cpu threads
  cpu="$(awk -v hz="$hz" -v t0="$t0" -v t1="$t1" '
    NR == FNR { b[$1] = $3; next }
    { total += $3 - b[$1] }
    END { printf "%.0f", 100 * total / hz / (t1 - t0) }' \
    <(echo "$ticks_before") <(echo "$ticks_after"))"
  threads="$(awk -v hz="$hz" -v t0="$t0" -v t1="$t1" '
    NR == FNR { b[$1] = $3; next }
    { printf "%.0f %s/%s\n", 100 * ($3 - b[$1]) / hz / (t1 - t0), $2, $1 }' \
    <(echo "$ticks_before") <(echo "$ticks_after") |
    sort -rn | head -4 | awk '{ printf "%s%s:%s%%", (NR > 1 ? "," : ""), $2, $1 }')"

  local rss_mb anon_mb flag=""
  rss_mb="$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')"
  anon_mb="$(awk -v k="$anon_kb" 'BEGIN { printf "%.1f", k / 1024 }')"
  if ((non2xx > 0)); then flag+=" non2xx"; fi
  if ((sock_err > 0)); then flag+=" socket_errors"; fi
  if ((d_dup > 0)); then flag+=" duplicates"; fi
  if [[ $mode != control ]] && ((d_recv < requests)); then flag+=" stored<answered"; fi
  local ok=1
  if [[ -n "$flag" ]]; then ok=0; invalid=$((invalid + 1)); fi

  echo "mode=$mode conns=$conns round=$round rps=$rps p50_ms=$p50 p99_ms=$p99" \
    "non2xx=$non2xx socket_errors=$sock_err requests=$requests stored=$d_recv" \
    "duplicates=$d_dup rss_mb=$rss_mb anon_mb=$anon_mb cpu_pct=$cpu commits=$d_commits" \
    "events_per_commit=$per_commit commit_ms=$commit_ms threads=$threads"
  if [[ -n "$flag" ]]; then
    echo "FLAG mode=$mode conns=$conns round=$round:$flag; wrk said:"
    sed 's/^/  | /' "$dir.wrk"
  fi
  echo "$mode $conns $round $rps $p50 $p99 $rss_mb $ok $per_commit $commit_ms" >>"$results"
}

echo "# bench/ingest $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# rouse: $rouse"
echo "# machine: $(nproc) cpu, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
  "data on $fs_dev ($fs_type, rotational=$rotational), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# wrk -t$wrk_threads -d${duration}s (warm-up ${warmup}s), conns: $conns_list," \
  "rounds: $rounds, http_threads: $http_threads, events ~1.55 KB (post_event.lua)"

# Prints how many 4 KiB synchronous overwrites (one device flush each, no metadata change) the
# disk does per second right now: a reference for fsync-mode commit times, which swing with it.
probe_disk() {
  local f="$work/probe" t0 t1 n=200
  dd if=/dev/zero of="$f" bs=4k count=$n status=none conv=fsync
  t0="$(date +%s.%N)"
  dd if=/dev/zero of="$f" bs=4k count=$n oflag=dsync conv=notrunc status=none
  t1="$(date +%s.%N)"
  rm -f "$f"
  awk -v n=$n -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", n / (t1 - t0) }'
}

for round in $(seq "$rounds"); do
  for conns in $conns_list; do
    echo "disk round=$round conns=$conns flushes_per_s=$(probe_disk)"
    for mode in $modes; do
      measure "$mode" "$conns" "$round"
    done
  done
done

echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Summary (median over $rounds round(s); ratios of medians)"
awk -v target="$target_ratio" -v conns_list="$conns_list" '
  function median(key,   n, i, j, t, v) {
    n = split(vals[key], v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
      t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
    }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  {
    k = $1 " " $2
    vals[k " rps"] = vals[k " rps"] " " $4; vals[k " p50"] = vals[k " p50"] " " $5
    vals[k " p99"] = vals[k " p99"] " " $6; vals[k " rss"] = vals[k " rss"] " " $7
    all[k " rps"] = all[k " rps"] sprintf("%s%.0f", (all[k " rps"] == "" ? "" : "/"), $4)
    if (!$8) bad[k] = 1
  }
  END {
    printf "%-8s %5s %10s %16s %9s %9s %8s\n", "mode", "conns", "events/s", "(rounds)", "p50_ms", "p99_ms", "rss_mb"
    nm = split("fsync os control", modes, " ")
    nc = split(conns_list, cs, " ")
    for (c = 1; c <= nc; c++) for (m = 1; m <= nm; m++) {
      k = modes[m] " " cs[c]
      med[k] = median(k " rps")
      printf "%-8s %5s %10.0f %16s %9.2f %9.2f %8.1f%s\n", modes[m], cs[c], med[k], all[k " rps"],
        median(k " p50"), median(k " p99"), median(k " rss"), bad[k] ? "  (flagged)" : ""
    }
    print ""
    pass = 1
    for (c = 1; c <= nc; c++) {
      ctl = med["control " cs[c]]
      d = ctl ? med["fsync " cs[c]] / ctl : 0
      o = ctl ? med["os " cs[c]] / ctl : 0
      printf "conns=%s durable/control=%.2f os/control=%.2f durable/os=%.2f\n", cs[c], d, o,
        med["os " cs[c]] ? med["fsync " cs[c]] / med["os " cs[c]] : 0
      if (d < target) pass = 0
    }
    printf "TARGET durable>=%.2f*control: %s\n", target, pass ? "PASS" : "FAIL"
  }' "$results"

if ((invalid > 0)); then
  echo "INVALID: $invalid measurement(s) flagged above"
  exit 1
fi
