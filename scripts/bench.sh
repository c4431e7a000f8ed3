#!/usr/bin/env bash
# Load runs for `make bench`: builds bin/, measures the floors (argon2id,
# ES256, fsync) with Go benchmarks, starts a fresh assentd on a temporary
# data directory and a free loopback port, runs every `assent bench`
# scenario against it, then the scaling and latency-versus-load runs, and
# writes the results table to bench-results.md.
#
# Knobs (environment): BENCH_DURATION (measured time per scenario, default
# 10s), BENCH_WARMUP (2s), BENCH_OUT (bench-results.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
fi

duration=${BENCH_DURATION:-10s}
warmup=${BENCH_WARMUP:-2s}
out=${BENCH_OUT:-bench-results.md}
short=${BENCH_SHORT:-5s} # the scaling, sweep and memory runs
devices=${BENCH_DEVICES:-10000} # app devices connected in the memory run
sessions=${BENCH_SESSIONS:-100000} # sessions in its data file

go build -o bin/ ./cmd/...

tmp=$(mktemp -d)
# The ciba scenario sends each of its users many payment approvals; the
# push fatigue defence (10 requests per user in 15 minutes by default)
# would refuse them, so the bench server allows more.
printf 'push_lock:\n  max_requests: 1000000\n' >"$tmp/assent.yaml"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() { stop_server; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

# free_port prints a loopback port nothing listens on.
free_port() {
  local p
  for _ in $(seq 50); do
    # Below the kernel's ephemeral range (32768 and up on Linux), where the
    # load generator's own connections take their ports.
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "bench: no free port found" >&2
  exit 1
}

# start_server [ENV=VALUE...] starts assentd on a fresh data directory and
# waits until its admin API answers.
start_server() {
  start_server_on "$tmp/data.$RANDOM" "$@"
}

# start_server_on DIR [ENV=VALUE...] starts assentd on the data directory DIR.
start_server_on() {
  data=$1
  shift
  # A port found free may be taken before assentd binds it: try another.
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    url="http://127.0.0.1:$port"
    env "$@" ./bin/assentd -addr "127.0.0.1:$port" -data "$data" -config "$tmp/assent.yaml" >"$tmp/assentd.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 200); do
      if [ -f "$data/admin.token" ] && ./bin/assent client list --server "$url" --token-file "$data/admin.token" >/dev/null 2>&1; then
        return
      fi
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "bench: assentd did not start" >&2
      exit 1
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    grep -q "address already in use" "$tmp/assentd.log" || break
  done
  cat "$tmp/assentd.log" >&2
  echo "bench: assentd exited" >&2
  exit 1
}

# bench SCENARIO CONCURRENCY DURATION [FLAGS...] prints one Markdown row.
bench() {
  local s=$1 c=$2 d=$3
  shift 3
  local row
  row=$(./bin/assent bench --server "$url" --token-file "$data/admin.token" --pid "$server_pid" \
    --scenario "$s" --concurrency "$c" --duration "$d" --warmup "$warmup" --markdown "$@" | tail -n +3) || true
  [ -n "$row" ] || row="| $s | failed: see the messages above |  |  |  |  |  |  |  |  |  |  |  |"
  echo "$row"
}

# column ROW N prints the Nth column of a Markdown row (1: scenario).
column() { echo "$1" | awk -F'|' -v n="$(($2 + 1))" '{gsub(/^ +| +$/, "", $n); print $n}'; }

cores=$(nproc)
model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "bench: floors (Go benchmarks)" >&2
floors=$(go test -run '^$' -bench Floor -benchtime 1s ./loadgen)
floor() { echo "$floors" | awk -v b="BenchmarkFloor$1-" 'index($1, b) == 1 {print $3}'; }
argon=$(floor Argon2id)
argon_all=$(floor Argon2idAllCores)
sign=$(floor ES256Sign)
verify=$(floor ES256Verify)
fsync=$(floor FsyncCommit)

echo "bench: load runs against a fresh assentd" >&2
start_server
load_average=$(cut -d' ' -f1-3 /proc/loadavg)
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$server_pid/status"; }
rss_start=$(rss_mib)
# The password ceiling again, just before and just after the sign-in run:
# these machines' speed drifts by 10 to 20% within a minute, so the sign-in
# rate is compared with the mean of the two.
ceiling_ns() {
  go test -run '^$' -bench 'FloorArgon2idAllCores$' -benchtime 2s ./loadgen |
    awk '$1 ~ /^BenchmarkFloorArgon2idAllCores/ {print $3}'
}
echo "bench: signin, between two measurements of the argon2id ceiling" >&2
argon_before=$(ceiling_ns)
rows=("$(bench signin $((cores * 2)) "$duration")")
argon_after=$(ceiling_ns)
argon_around=$(awk -v a="$argon_before" -v b="$argon_after" 'BEGIN {printf "%.0f", (a + b) / 2}')
for spec in "oidc-code $((cores * 2))" "refresh 32" "refresh 64" "client-credentials 32" \
  "client-credentials 64" "introspect 32" "ciba 8 --users 50"; do
  set -- $spec
  echo "bench: $1" >&2
  rows+=("$(bench "$1" "$2" "$duration" "${@:3}")")
done
signin_rate=$(column "${rows[0]}" 4)
refresh_rate=$(awk -v a="$(column "${rows[2]}" 4)" -v b="$(column "${rows[3]}" 4)" 'BEGIN {print (a > b ? a : b)}')
rss_after=$(rss_mib)

# Latency against load: the refresh grant, open loop at fractions of the
# closed-loop throughput just measured.
sweep=()
for pct in 25 50 75 90; do
  r=$(awk -v t="$refresh_rate" -v p="$pct" 'BEGIN {printf "%d", t * p / 100}')
  [ "$r" -ge 1 ] || continue
  echo "bench: refresh at $r/s" >&2
  sweep+=("$(bench refresh 256 "$short" --rate "$r")")
done
# The same for payment approvals in the app (ciba: request, push to the
# device over its websocket, signed decision, tokens).
ciba_rate=$(column "${rows[7]}" 4)
for pct in 25 50 90; do
  r=$(awk -v t="$ciba_rate" -v p="$pct" 'BEGIN {printf "%d", t * p / 100}')
  [ "$r" -ge 1 ] || continue
  echo "bench: ciba at $r/s" >&2
  sweep+=("$(bench ciba 64 "$short" --users 100 --rate "$r")")
done
stop_server

# Memory: a server whose data file holds $sessions sessions (seeded while
# it is stopped), with $devices app devices connected over websockets.
echo "bench: memory with $devices devices and $sessions sessions" >&2
seeded="$tmp/data.seeded"
./bin/assent bench seed --data "$seeded" --sessions "$sessions" --users 10000 >/dev/null
start_server_on "$seeded"
rss_seeded=$(rss_mib)
mem_row=$(bench push 8 "$short" --users 50 --devices "$devices")
stop_server

# Scaling with cores: the same server on one core.
echo "bench: GOMAXPROCS=1" >&2
start_server GOMAXPROCS=1
one_signin=$(bench signin 2 "$short")
one_refresh=$(bench refresh 32 "$short")
stop_server

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  echo "# Assent load results"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, $(go version | cut -d' ' -f3)."
  echo "Machine: $cores cores ($model), $(uname -sr), load average at start $load_average;"
  echo "assentd and the load generator share these cores."
  echo
  echo "## Floors (Go benchmarks, same run)"
  echo
  echo "| floor | time per op | per second |"
  echo "|---|---|---|"
  awk -v a="$argon" -v aa="$argon_all" -v s="$sign" -v v="$verify" -v f="$fsync" -v c="$cores" 'BEGIN {
    printf "| argon2id hash (m=19 MiB, t=2, p=1), one core | %.1f ms | %.1f |\n", a / 1e6, 1e9 / a
    printf "| argon2id on all %d cores at once (the password ceiling, at the start) | %.1f ms | %.1f |\n", c, aa / 1e6, 1e9 / aa
    printf "| ES256 (ECDSA P-256) sign | %.0f µs | %.0f |\n", s / 1e3, 1e9 / s
    printf "| ES256 verify | %.0f µs | %.0f |\n", v / 1e3, 1e9 / v
    printf "| fsync per bbolt commit | %.2f ms | %.0f |\n", f / 1e6, 1e9 / f
  }'
  echo
  echo "## Load (\`assent bench\`, ${duration} measured after ${warmup} warm-up, closed loop)"
  echo
  echo "| scenario | mode | workers | ok/s | p50 | p90 | p99 | max | errors | server CPU (cores) | server CPU per op | server RSS max | generator CPU (cores) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  awk -v s="$signin_rate" -v aa="$argon_around" -v b="$argon_before" -v e="$argon_after" 'BEGIN {
    if (s > 0 && aa > 0) printf "Password sign-in: %.1f/s against an argon2id ceiling of %.1f/s (%.1f/s just before the run, %.1f/s just after): %.0f%% of it.\n", s, 1e9 / aa, 1e9 / b, 1e9 / e, 100 * s * aa / 1e9
  }'
  echo "assentd resident memory: ${rss_start} MiB idle after start, ${rss_after} MiB after the runs above."
  echo
  echo "## Latency against load (refresh grant and app approvals, open loop, ${short} each)"
  echo
  echo "| scenario | mode | in flight at most | ok/s | p50 | p90 | p99 | max | errors | server CPU (cores) | server CPU per op | server RSS max | generator CPU (cores) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${sweep[@]}"
  echo
  echo "## Memory with $devices connected devices and $sessions sessions"
  echo
  echo "A fresh assentd on a data file seeded with $sessions sessions of 10,000 users (\`assent bench seed\`): ${rss_seeded} MiB resident after start. Then the \`push\` scenario connects $devices app devices (50 of them taking approvals through CIBA, closed loop):"
  echo
  echo "| scenario | mode | workers | ok/s | p50 | p90 | p99 | max | errors | server CPU (cores) | server CPU per op | server RSS max | generator CPU (cores) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  echo "$mem_row"
  echo
  echo "## One core (GOMAXPROCS=1 for assentd, ${short} each)"
  echo
  echo "| scenario | mode | workers | ok/s | p50 | p90 | p99 | max | errors | server CPU (cores) | server CPU per op | server RSS max | generator CPU (cores) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  echo "$one_signin"
  echo "$one_refresh"
  echo
  awk -v s2="$signin_rate" -v s1="$(column "$one_signin" 4)" -v r2="$refresh_rate" -v r1="$(column "$one_refresh" 4)" -v c="$cores" 'BEGIN {
    if (s1 > 0 && r1 > 0) printf "From one core to %d: sign-in x%.2f, refresh x%.2f.\n", c, s2 / s1, r2 / r1
  }'
} >"$out"
echo "bench: wrote $out" >&2
cat "$out"
