#!/usr/bin/env bash
# The soak run: the release server on a fresh SQLite store under steady mixed load (wrk: create, PATCH, read
# back, a third each) for MINUTES minutes, one wrk run per minute. Prints one row per minute (requests/s,
# p50/p99/max latency, the server's RSS at the end of the minute, non-2xx answers, connection errors), then
# the RSS and p99 of the first and last minute. Exits non-zero if any answer was not 2xx or a connection
# failed.
#
#   scripts/soak.sh [MINUTES]            # default 10
#
# Environment (optional): SOAK_CONNECTIONS (16), SOAK_THREADS (2), SOAK_DELAY_MS (10: each connection pauses
# about this long after each answer, so the load is steady rather than saturating a shared machine),
# SOAK_RESULTS (also write the per-minute rows, TSV, to this file).
# Everything is on 127.0.0.1; every wait is bounded; the server is stopped on exit however it happens.
# Installs wrk with apt-get when it is missing (as root), as scripts/load-bench.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

minutes=${1:-10}
conns=${SOAK_CONNECTIONS:-16}
threads=${SOAK_THREADS:-2}
delay=${SOAK_DELAY_MS:-10}
log() { echo "soak: $*" >&2; }
die() { log "$*"; exit 1; }
for n in $minutes $conns $threads $delay; do
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || die "not a positive whole number: $n"
done

if ! command -v wrk >/dev/null; then
    [ "$(id -u)" = 0 ] || die "wrk is missing: apt-get install wrk (as root)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2 ||
        { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2; } ||
        die "could not install wrk"
fi

log "building the release server"
cargo build --release -p openframe-server --bin openframe >&2
server_bin=${CARGO_TARGET_DIR:-$root/target}/release/openframe

work=$(mktemp -d "${TMPDIR:-/tmp}/openframe-soak.XXXXXX")
server_pid=
wrk_pid=
cleanup() {
    [ -n "$wrk_pid" ] && { kill -TERM "$wrk_pid" 2>/dev/null || true; wait "$wrk_pid" 2>/dev/null || true; }
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
auth="Authorization: Basic $(printf 'admin:%s' "$password" | base64 | tr -d '\n')"
# shellcheck source=scripts/lib/serve.sh
. scripts/lib/serve.sh
start_openframe "$server_bin" "sqlite://$work/soak.db" "$work/server.log" "$password"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

rows=$work/rows.tsv
printf 'minute\trps\tp50_us\tp99_us\tmax_us\trss_kib\tnon2xx\terrors\tcreates\tpatches\treads\n' >"$rows"
rss_start=$(rss_kib)
log "server up, RSS $(awk -v k="$rss_start" 'BEGIN { printf "%.1f", k / 1024 }') MiB; $minutes minute(s) of load, $conns connections, ~${delay} ms pause per answer"
failures=0
for minute in $(seq 1 "$minutes"); do
    LOAD_MODE=soak LOAD_DELAY_MS=$delay \
        LOAD_CREATE_BODY=$root/docs/examples/create.json LOAD_UPDATE_BODY=$root/docs/examples/update.json \
        timeout 120 wrk -t "$threads" -c "$conns" -d 60s --timeout 5s -H "$auth" \
        -s "$root/scripts/load/voice_interaction.lua" \
        "$base_url/api/now/openframe/voice-interaction" >"$work/wrk.out" 2>&1 &
    wrk_pid=$!
    status=0
    wait "$wrk_pid" || status=$?
    wrk_pid=
    [ "$status" = 0 ] || { cat "$work/wrk.out" >&2; die "wrk failed with status $status"; }
    line=$(grep '^RESULT ' "$work/wrk.out") || die "wrk printed no RESULT line"
    for kv in ${line#RESULT }; do
        declare "r_${kv%%=*}=${kv#*=}"
    done
    rps=$(awk -v n="$r_requests" -v us="$r_duration_us" 'BEGIN { printf "%.1f", n / (us / 1e6) }')
    errors=$((r_socket_errors + r_timeouts))
    rss=$(rss_kib)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$minute" "$rps" "$r_p50_us" "$r_p99_us" "$r_max_us" \
        "$rss" "$r_non2xx" "$errors" "$r_creates" "$r_patches" "$r_reads" >>"$rows"
    log "$(printf 'minute %3s: %8s req/s  p50 %6s ms  p99 %7s ms  RSS %6.1f MiB  non-2xx %s  errors %s' \
        "$minute" "$rps" "$(ms "$r_p50_us")" "$(ms "$r_p99_us")" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
        "$r_non2xx" "$errors")"
    if [ "$r_non2xx" != 0 ] || [ "$errors" != 0 ]; then
        failures=$((failures + 1))
        grep '^FIRST_BAD ' "$work/wrk.out" >&2 || true
    fi
done
[ -n "${SOAK_RESULTS:-}" ] && cp "$rows" "$SOAK_RESULTS"

echo "| minute |   req/s | p50 ms | p99 ms | max ms | RSS MiB | non-2xx | errors | creates | PATCHes | reads |"
echo "|-------:|--------:|-------:|-------:|-------:|--------:|--------:|-------:|--------:|--------:|------:|"
awk -F'\t' 'NR > 1 { printf "| %6s | %7.1f | %6.2f | %6.2f | %6.1f | %7.1f | %7s | %6s | %7s | %7s | %5s |\n", \
    $1, $2, $3 / 1000, $4 / 1000, $5 / 1000, $6 / 1024, $7, $8, $9, $10, $11 }' "$rows"
awk -F'\t' -v start="$rss_start" 'NR == 2 { r1 = $6; p1 = $4 } NR > 1 { rn = $6; pn = $4 }
    END { printf "\nsoak: RSS %.1f MiB before load, %.1f MiB after minute 1, %.1f MiB after the last; p99 %.2f ms in minute 1, %.2f ms in the last\n", \
        start / 1024, r1 / 1024, rn / 1024, p1 / 1000, pn / 1000 }' "$rows"
echo "soak: $(nproc) cores; load average at the end $(cut -d' ' -f1-3 /proc/loadavg); store $(du -sh "$work" | cut -f1)"
[ "$failures" = 0 ] || die "FAILED: $failures minute(s) had non-2xx answers or connection errors"
