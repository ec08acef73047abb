#!/usr/bin/env bash
# One load run with the CPU it cost: the release server on a fresh store, driven by wrk with the reference's
# POST (or the create-then-PATCH mix) for a few seconds; prints requests/s, the server's CPU time per request
# (utime + stime of every thread), the PostgreSQL processes' CPU time per request (backends, WAL writer, ...:
# every process named `postgres` on this machine), p99 latency and the server's peak RSS. CPU per request moves
# far less with other load on the machine than requests/s do, so it is what to compare between two builds.
#
#   scripts/cpu-bench.sh STORE [CONNECTIONS] [SECONDS] [WORKLOAD]
#
#   STORE        memory, sqlite, sled or postgres (postgres needs OPENFRAME_TEST_POSTGRES_URL, as
#                scripts/load-bench.sh: a fresh database is created with its role and dropped after)
#   CONNECTIONS  64 by default;  SECONDS 8;  WORKLOAD create (default) or mix
#   SERVER_BIN   the server to run (default: target/release/openframe, built by the caller); to compare two
#                builds, alternate runs of each
#
# Loopback only; the server is stopped and the store removed on any exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

store=${1:?usage: scripts/cpu-bench.sh STORE [CONNECTIONS] [SECONDS] [WORKLOAD]}
conns=${2:-64}
duration=${3:-8}
workload=${4:-create}
bin=${SERVER_BIN:-$root/target/release/openframe}
pg_url=${OPENFRAME_TEST_POSTGRES_URL:-}

die() { echo "cpu-bench: $*" >&2; exit 1; }
# shellcheck source=scripts/lib/serve.sh
. scripts/lib/serve.sh
[ -x "$bin" ] || die "no server at $bin (cargo build --release -p openframe-server)"
command -v wrk >/dev/null || die "wrk is missing (scripts/load-bench.sh installs it)"
[[ $workload = create || $workload = mix ]] || die "unknown workload $workload"

work=$(mktemp -d "${TMPDIR:-/tmp}/openframe-cpu.XXXXXX")
server_pid=
pg_database=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$pg_database" ]; then
        psql "$pg_url" -qtAc "DROP DATABASE IF EXISTS $pg_database WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

case $store in
    memory) url=memory:// ;;
    sqlite) url=sqlite://$work/store.db ;;
    sled) url=sled://$work/store.sled ;;
    postgres)
        [ -n "$pg_url" ] || die "postgres needs OPENFRAME_TEST_POSTGRES_URL"
        pg_database="openframe_cpu_$$"
        psql "$pg_url" -v ON_ERROR_STOP=1 -qtAc "CREATE DATABASE $pg_database" >/dev/null
        url=$(database_url "$pg_url" "$pg_database")
        ;;
    *) die "unknown store $store" ;;
esac

password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
auth="Authorization: Basic $(printf 'admin:%s' "$password" | base64 | tr -d '\n')"
start_openframe "$bin" "$url" "$work/server.log" "$password"
endpoint=$base_url/api/now/openframe/voice-interaction
# One request first: the credential is cached and a broken setup fails here.
curl -sS --max-time 10 -o /dev/null -H "$auth" -H 'Content-Type: application/json' \
    --data-binary @docs/examples/create.json "$endpoint"

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
postgres_ticks() {
    local total=0 pid
    for pid in $(pgrep -x postgres || true); do total=$((total + $(ticks "$pid"))); done
    echo "$total"
}
server0=$(ticks "$server_pid")
postgres0=$(postgres_ticks)
LOAD_MODE=$workload LOAD_DELAY_MS=0 \
    LOAD_CREATE_BODY=$root/docs/examples/create.json LOAD_UPDATE_BODY=$root/docs/examples/update.json \
    timeout $((duration + 60)) wrk -t "$((conns < 2 ? conns : 2))" -c "$conns" -d "${duration}s" --timeout 5s \
    -H "$auth" -s scripts/load/voice_interaction.lua "$endpoint" >"$work/wrk.out" 2>&1 ||
    { cat "$work/wrk.out" >&2; die "wrk failed"; }
server1=$(ticks "$server_pid")
postgres1=$(postgres_ticks)
line=$(grep '^RESULT ' "$work/wrk.out") || { cat "$work/wrk.out" >&2; die "wrk printed no RESULT line"; }
for kv in ${line#RESULT }; do
    declare "r_${kv%%=*}=${kv#*=}"
done
rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status")
awk -v store="$store" -v workload="$workload" -v c="$conns" -v n="$r_requests" -v us="$r_duration_us" \
    -v s0="$server0" -v s1="$server1" -v p0="$postgres0" -v p1="$postgres1" -v tck="$(getconf CLK_TCK)" \
    -v p99="$r_p99_us" -v rss="$rss" -v bad="$r_non2xx" -v errors="$((r_socket_errors + r_timeouts))" 'BEGIN {
        printf "%-8s %-6s c=%-3s %8.0f req/s  server %6.1f us/req  postgres %6.1f us/req  p99 %6.2f ms  peak RSS %5.1f MiB  non-2xx %s  errors %s\n",
            store, workload, c, n / (us / 1e6), (s1 - s0) / tck * 1e6 / n, (p1 - p0) / tck * 1e6 / n, p99 / 1000,
            rss / 1024, bad, errors
    }'
[ "$r_non2xx" = 0 ] && [ "$((r_socket_errors + r_timeouts))" = 0 ] || die "non-2xx answers or connection errors"
