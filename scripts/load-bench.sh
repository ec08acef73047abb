#!/usr/bin/env bash
# The load benchmark: the release server on each store in turn, driven over loopback by wrk with the
# reference's POST example and a create-then-PATCH mix, at several concurrency levels. Prints one table per
# store (requests/s, latency percentiles, non-2xx answers, the server's peak RSS, throughput relative to the
# memory store) and exits non-zero if any answer was not 2xx or any connection failed.
#
#   scripts/load-bench.sh
#
# Environment (all optional):
#   LOAD_DURATION      seconds per run                                  (10)
#   LOAD_CONNECTIONS   concurrency levels, space-separated              ("1 16 64")
#   LOAD_STORES        stores, space-separated: memory sqlite sled postgres
#                      (default: all four, postgres only when OPENFRAME_TEST_POSTGRES_URL is set)
#   LOAD_WORKLOADS     "create mix" or either one                       ("create mix")
#   LOAD_THREADS       most wrk threads                                 (2: the reference machine's cores)
#   LOAD_PACED         1: also a paced create run at half the store's best create throughput, for latency
#                      below saturation; 0: skip it                     (1)
#   LOAD_PACED_CONNECTIONS  connections of the paced run                (64)
#   OPENFRAME_TEST_POSTGRES_URL  a PostgreSQL database whose role may CREATE DATABASE (as scripts/test.sh
#                      prepares with scripts/postgres-test-db.sh): the run uses a fresh database, dropped after.
#   LOAD_RESULTS       also write the raw results (TSV) to this file
#
# Everything is on 127.0.0.1; every wait is bounded; the servers are stopped on exit, however it happens.
# Installs wrk with apt-get when it is missing (as root). Takes about 75 s per store with the defaults,
# plus the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

duration=${LOAD_DURATION:-10}
levels=${LOAD_CONNECTIONS:-"1 16 64"}
workloads=${LOAD_WORKLOADS:-"create mix"}
max_threads=${LOAD_THREADS:-2}
paced=${LOAD_PACED:-1}
paced_connections=${LOAD_PACED_CONNECTIONS:-64}
pg_url=${OPENFRAME_TEST_POSTGRES_URL:-}
if [ -n "${LOAD_STORES:-}" ]; then
    stores=$LOAD_STORES
elif [ -n "$pg_url" ]; then
    stores="memory sqlite sled postgres"
else
    stores="memory sqlite sled"
fi

log() { echo "load-bench: $*" >&2; }
die() { log "$*"; exit 1; }
# shellcheck source=scripts/lib/serve.sh
. scripts/lib/serve.sh

for n in $duration $levels $max_threads $paced_connections; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive whole number: $n"
done
for w in $workloads; do
    [[ $w = create || $w = mix ]] || die "unknown workload $w (expected create or mix)"
done
for s in $stores; do
    case $s in
        memory | sqlite | sled) ;;
        postgres) [ -n "$pg_url" ] || die "postgres needs OPENFRAME_TEST_POSTGRES_URL" ;;
        *) die "unknown store $s (expected memory, sqlite, sled or postgres)" ;;
    esac
done

if ! command -v wrk >/dev/null; then
    [ "$(id -u)" = 0 ] || die "wrk is missing: apt-get install wrk (as root)"
    log "installing wrk"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2 ||
        { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2; } ||
        die "could not install wrk"
fi

log "building the release server"
cargo build --release -p openframe-server >&2
server_bin=${CARGO_TARGET_DIR:-$root/target}/release/openframe
[ -x "$server_bin" ] || die "no $server_bin after the build"

work=$(mktemp -d "${TMPDIR:-/tmp}/openframe-load.XXXXXX")
results=$work/results.tsv
server_pid=
wrk_pid=
pg_database=

stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        # A graceful drain takes milliseconds; a server that hangs gets 10 s, then SIGKILL.
        for _ in $(seq 1 100); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            log "server $server_pid did not stop within 10 s of SIGTERM; killing it"
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=
}

drop_pg_database() {
    if [ -n "$pg_database" ]; then
        psql "$pg_url" -v ON_ERROR_STOP=1 -qtAc "DROP DATABASE IF EXISTS $pg_database WITH (FORCE)" >/dev/null 2>&1 ||
            log "could not drop PostgreSQL database $pg_database"
        pg_database=
    fi
}

cleanup() {
    if [ -n "$wrk_pid" ]; then
        kill -TERM "$wrk_pid" 2>/dev/null || true
        wait "$wrk_pid" 2>/dev/null || true
    fi
    stop_server
    drop_pg_database
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
auth="Authorization: Basic $(printf 'admin:%s' "$password" | base64 | tr -d '\n')"

# Sets store_url to a fresh, empty store of kind $1 (not in a subshell: pg_database must outlive it).
fresh_store() {
    case $1 in
        memory) store_url="memory://" ;;
        sqlite) store_url="sqlite://$work/load.db" ;;
        sled) store_url="sled://$work/load.sled" ;;
        postgres)
            pg_database="openframe_load_$$_$(date +%s)"
            psql "$pg_url" -v ON_ERROR_STOP=1 -qtAc "CREATE DATABASE $pg_database" >/dev/null ||
                die "could not create PostgreSQL database $pg_database with the role of OPENFRAME_TEST_POSTGRES_URL"
            # Same server and credentials, the fresh database instead of the last path segment.
            store_url=$(database_url "$pg_url" "$pg_database")
            ;;
    esac
}

# Starts the server on store URL $1; sets server_pid and base_url.
start_server() {
    start_openframe "$server_bin" "$1" "$work/server.log" "$password"
    # One request by hand, so that a broken setup fails here with its answer rather than as a table of errors.
    local answer
    answer=$(curl -sS --max-time 10 -H "$auth" -H 'Content-Type: application/json' -H 'Accept: application/json' \
        --data-binary @docs/examples/create.json -w ' HTTP %{http_code}' \
        "$base_url/api/now/openframe/voice-interaction") || die "the first request failed"
    [[ $answer == *' HTTP 200' ]] || die "the first create was answered: $answer"
}

peak_rss_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status" 2>/dev/null || echo 0
}

# One wrk run: $1 store, $2 workload (create|mix|paced), $3 connections, $4 delay ms. Appends a TSV row.
failures=0
run_wrk() {
    local store=$1 workload=$2 conns=$3 delay=$4
    local threads=$((conns < max_threads ? conns : max_threads))
    local mode=$workload out=$work/wrk.out
    [ "$workload" = paced ] && mode=create
    # In the background, waited for: bash runs the traps on INT/TERM only between commands, and `wait`
    # returns at once on a signal where a foreground wrk would hold them off until the end of its run.
    LOAD_MODE=$mode LOAD_DELAY_MS=$delay \
        LOAD_CREATE_BODY=$root/docs/examples/create.json LOAD_UPDATE_BODY=$root/docs/examples/update.json \
        timeout $((duration + 60)) wrk -t "$threads" -c "$conns" -d "${duration}s" --timeout 5s \
        -H "$auth" -s "$root/scripts/load/voice_interaction.lua" \
        "$base_url/api/now/openframe/voice-interaction" >"$out" 2>&1 &
    wrk_pid=$!
    local status=0
    wait "$wrk_pid" || status=$?
    wrk_pid=
    if [ "$status" != 0 ]; then
        cat "$out" >&2
        die "wrk failed with status $status ($store, $workload, $conns connections)"
    fi
    local line
    line=$(grep '^RESULT ' "$out") || { cat "$out" >&2; die "wrk printed no RESULT line"; }
    # key=value pairs into shell variables r_<key>
    local kv
    for kv in ${line#RESULT }; do
        local "r_${kv%%=*}=${kv#*=}"
    done
    local rps
    rps=$(awk -v n="$r_requests" -v us="$r_duration_us" 'BEGIN { printf "%.1f", (us > 0 ? n / (us / 1e6) : 0) }')
    local errors=$((r_socket_errors + r_timeouts))
    local rss
    rss=$(peak_rss_kib)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$store" "$workload" "$conns" "$rps" \
        "$r_p50_us" "$r_p99_us" "$r_p999_us" "$r_non2xx" "$errors" "$rss" "$r_creates" "$r_patches" >>"$results"
    log "$(printf '%-8s %-6s c=%-3s %9s req/s  p50 %6.2f ms  p99 %7.2f ms  non-2xx %s  errors %s' \
        "$store" "$workload" "$conns" "$rps" "$(ms "$r_p50_us")" "$(ms "$r_p99_us")" "$r_non2xx" "$errors")"
    if [ "$r_non2xx" != 0 ] || [ "$errors" != 0 ]; then
        failures=$((failures + 1))
        log "FAILED: $store $workload c=$conns: $r_non2xx non-2xx answers, $r_socket_errors socket errors, $r_timeouts timeouts"
        grep '^FIRST_BAD ' "$out" >&2 || true
        tail -n 5 "$work/server.log" >&2 || true
    fi
}

ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

printf 'store\tworkload\tconnections\trps\tp50_us\tp99_us\tp999_us\tnon2xx\terrors\tpeak_rss_kib\tcreates\tpatches\n' >"$results"
# Every run gets a fresh server on a fresh, empty store: runs do not inherit each other's data, and each
# one's peak RSS is its own.
one_run() {
    local store=$1 workload=$2 conns=$3 delay=$4
    fresh_store "$store"
    start_server "$store_url"
    run_wrk "$store" "$workload" "$conns" "$delay"
    stop_server
    drop_pg_database
    rm -rf "$work/load.db" "$work/load.db-wal" "$work/load.db-shm" "$work/load.sled"
}

# What the durable stores will wait on: the time of one small synchronous write where their files live, and
# how busy the machine is (the figures mean little if other work shares it).
probe_disk() {
    LC_ALL=C dd if=/dev/zero of="$work/probe" bs=4k count=200 oflag=dsync 2>&1 |
        awk '/copied/ { printf "%.2f", $(NF - 3) * 1000 / 200 }'
    rm -f "$work/probe"
}
disk_before=$(probe_disk)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

started=$(date +%s)
for store in $stores; do
    for workload in $workloads; do
        for conns in $levels; do
            one_run "$store" "$workload" "$conns" 0
        done
    done
    if [ "$paced" = 1 ]; then
        # Half the best create throughput this store reached, offered by the paced run's connections: each
        # waits on average (connections / target rate) after every answer, so the offered rate is a little
        # under the target (by the latency).
        best=$(awk -F'\t' -v s="$store" '$1 == s && $2 == "create" && $4 > b { b = $4 } END { print b + 0 }' "$results")
        if [ "$best" = 0 ]; then
            log "$store: no create run to pace from; skipping the paced run"
            continue
        fi
        delay=$(awk -v b="$best" -v c="$paced_connections" 'BEGIN { d = b > 0 ? int(c * 1000 / (b / 2) + 0.5) : 0; print d < 1 ? 1 : d }')
        log "$store: paced run, $paced_connections connections each waiting $delay ms on average (target $(awk -v b="$best" 'BEGIN { printf "%.0f", b / 2 }') req/s)"
        one_run "$store" paced "$paced_connections" "$delay"
    fi
done
elapsed=$(($(date +%s) - started))

[ -n "${LOAD_RESULTS:-}" ] && cp "$results" "$LOAD_RESULTS"

# The tables: one per store; "vs memory" is the store's throughput over the memory store's for the same
# workload and connections.
awk -F'\t' -v duration="$duration" '
    NR == 1 { next }
    {
        key = $2 SUBSEP $3
        if ($1 == "memory") mem[key] = $4
        rows[++n] = $0
        if (!($1 in seen)) { seen[$1] = 1; order[++stores] = $1 }
        if ($10 > peak[$1]) peak[$1] = $10
    }
    END {
        for (i = 1; i <= stores; i++) {
            s = order[i]
            printf "\n%s (%s s per run; peak RSS %.1f MiB)\n", s, duration, peak[s] / 1024
            printf "| workload | conns |     req/s | p50 ms | p99 ms | p99.9 ms | non-2xx | errors | peak RSS MiB | vs memory |\n"
            printf "|----------|------:|----------:|-------:|-------:|---------:|--------:|-------:|-------------:|----------:|\n"
            for (r = 1; r <= n; r++) {
                split(rows[r], f, "\t")
                if (f[1] != s) continue
                key = f[2] SUBSEP f[3]
                ratio = (s != "memory" && f[2] != "paced" && (key in mem) && mem[key] > 0) ? sprintf("%.0f%%", 100 * f[4] / mem[key]) : "-"
                printf "| %-8s | %5s | %9.1f | %6.2f | %6.2f | %8.2f | %7s | %6s | %12.1f | %9s |\n", \
                    f[2], f[3], f[4], f[5] / 1000, f[6] / 1000, f[7] / 1000, f[8], f[9], f[10] / 1024, ratio
            }
        }
    }' "$results"
echo
echo "load-bench: $(nproc) cores, $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo); ${elapsed} s of runs"
echo "load-bench: load average before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg);" \
    "4 KiB O_DSYNC write ${disk_before} ms before, $(probe_disk) ms after (mean of 200, in ${TMPDIR:-/tmp})"

if [ "$failures" != 0 ]; then
    log "FAILED: $failures run(s) had non-2xx answers or connection errors (see above)"
    exit 1
fi
