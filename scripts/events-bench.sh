#!/usr/bin/env bash
# The event stream's cost (issue 8): a create load on a server with CLIENTS connected stream clients, against
# the same load on a server with none.
#
# Every run starts `openframe serve` (release build) on a fresh SQLite file, so that neither case starts with
# the other's rows; a pair is one run without clients and one with, in alternating order (without/with, then
# with/without, ...) so that neither case is always second. A run: a 3 s warm-up load, the server's RSS; in a
# "with" run, CLIENTS stream clients, each filtered on its own agent (so every create reaches exactly one of
# them, as agents' workspaces would), and the RSS again; then the create load (TASKS concurrent clients for
# SECONDS_PER_RUN, each create assigned to one of CLIENTS agents in turn), with the server's CPU time
# (utime+stime from /proc/PID/stat, and stime alone: the kernel's share, which on loopback includes the
# receiving side of every socket write) over it, and the RSS after it.
#
# Prints one line per run, then per pair the change in creates/s and in the server's CPU time per create, and
# the medians of both. CPU time per create is the server's own cost; creates/s also moves with the CPU the
# load generator and the clients take from the same machine.
#
# PIN=1 (the default, on 2 or more cores) pins the server to CPU 0 and the load generator and the stream
# clients to the other CPUs, so that the server has the same CPU in both cases and the clients' work does not
# run on it; PIN=0 leaves placement to the scheduler. Other processes on the machine are not pinned: the
# load average is printed before and after every run.
#
# Usage: scripts/events-bench.sh   (env: PAIRS=3 CLIENTS=1000 SECONDS_PER_RUN=20 TASKS=16 PIN=1 SERVER_BIN=)
set -euo pipefail

cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-3}
CLIENTS=${CLIENTS:-1000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
TASKS=${TASKS:-16}
PIN=${PIN:-1}
PASSWORD=events-bench-password

cargo build --release --locked -q -p openframe-server --bin openframe --example events_bench
# SERVER_BIN=path runs another build of the server (another commit's, to compare) under the same load.
BIN=${SERVER_BIN:-target/release/openframe}
LOAD=target/release/examples/events_bench
# Each stream is a connection on both sides.
ulimit -n "$(ulimit -Hn)"
CLK_TCK=$(getconf CLK_TCK)

server_on=()
load_on=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ]; then
    server_on=(taskset -c 0)
    load_on=(taskset -c "1-$(($(nproc) - 1))")
    placement="server pinned to CPU 0, load generator and clients to CPUs 1-$(($(nproc) - 1))"
else
    placement="not pinned"
fi

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# utime + stime in clock ticks: fields 14 and 15 of /proc/PID/stat, 12 and 13 after the ") " that ends the
# command name.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
sys_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $13 }'; }
load_average() { cut -d' ' -f1-3 /proc/loadavg; }

work=$(mktemp -d)
server_pid=""
clients_pid=""
cleanup() {
    [ -n "$clients_pid" ] && kill "$clients_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# One run on a fresh server and store: `run PAIR without|with`; appends "PAIR MODE RATE CPU_US_PER_CREATE" to
# $work/results and prints the run's figures.
run() {
    local pair=$1 mode=$2 dir="$work/run"
    rm -rf "$dir"
    mkdir -p "$dir"
    local load_before
    load_before=$(load_average)
    OPENFRAME_ADMIN_PASSWORD=$PASSWORD "${server_on[@]}" "$BIN" serve --listen 127.0.0.1:0 \
        --store "sqlite://$dir/db" --max-connections $((CLIENTS + TASKS + 64)) 2>"$dir/server.log" &
    server_pid=$!
    local base=""
    for _ in $(seq 1 100); do
        base=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$dir/server.log")
        [ -n "$base" ] && break
        sleep 0.1
    done
    [ -n "$base" ] || { cat "$dir/server.log"; exit 1; }

    # Warm-up: the first sign-in's argon2, the SQLite file's first pages.
    "${load_on[@]}" "$LOAD" creates "$base" admin "$PASSWORD" 3 "$TASKS" "$CLIENTS" >/dev/null
    local rss_before rss_clients="" received="" clients_cpu0=0
    rss_before=$(rss_kib "$server_pid")
    if [ "$mode" = with ]; then
        "${load_on[@]}" "$LOAD" clients "$base" admin "$PASSWORD" "$CLIENTS" >"$dir/clients.out" 2>"$dir/clients.err" &
        clients_pid=$!
        for _ in $(seq 1 600); do
            grep -q '^connected' "$dir/clients.out" && break
            kill -0 "$clients_pid" 2>/dev/null || { cat "$dir/clients.err"; exit 1; }
            sleep 0.1
        done
        grep -q '^connected' "$dir/clients.out" || { echo "the clients did not connect"; exit 1; }
        sleep 2
        rss_clients=$(rss_kib "$server_pid")
        clients_cpu0=$(cpu_ticks "$clients_pid")
    fi

    local cpu0 cpu1 sys0 sys1 clients_cpu1=0 result rss_after
    cpu0=$(cpu_ticks "$server_pid")
    sys0=$(sys_ticks "$server_pid")
    result=$("${load_on[@]}" "$LOAD" creates "$base" admin "$PASSWORD" "$SECONDS_PER_RUN" "$TASKS" "$CLIENTS")
    cpu1=$(cpu_ticks "$server_pid")
    sys1=$(sys_ticks "$server_pid")
    rss_after=$(rss_kib "$server_pid")
    if [ "$mode" = with ]; then
        clients_cpu1=$(cpu_ticks "$clients_pid")
        sleep 6 # the clients report what they received every 5 s
        received=$(tail -n 1 "$dir/clients.err")
        kill "$clients_pid"; wait "$clients_pid" 2>/dev/null || true; clients_pid=""
    fi
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

    # result: "creates N seconds S creates/s R"
    awk -v pair="$pair" -v mode="$mode" -v n="$CLIENTS" -v tck="$CLK_TCK" -v c0="$cpu0" -v c1="$cpu1" -v s0="$sys0" -v s1="$sys1" \
        -v k0="$clients_cpu0" -v k1="$clients_cpu1" -v r0="$rss_before" -v r1="$rss_clients" -v r2="$rss_after" \
        -v got="$received" -v la0="$load_before" -v la1="$(load_average)" -v results="$work/results" \
        -v result="$result" 'BEGIN {
        split(result, f, " "); creates = f[2]; secs = f[4]; rate = f[6]
        cpu = (c1 - c0) / tck; us = cpu * 1e6 / creates; sys_us = (s1 - s0) / tck * 1e6 / creates
        printf "pair %d %-7s: creates/s %d (%d creates in %.1f s); server CPU %.2f s = %.1f us/create (%.1f of it system); ", \
               pair, mode, rate, creates, secs, cpu, us, sys_us
        if (mode == "with")
            printf "RSS %.1f MiB before, %.1f MiB with %d clients connected (+%.1f), %.1f MiB after the load (+%.1f); " \
                   "clients CPU %.2f s; clients: %s; ", r0 / 1024, r1 / 1024, n, (r1 - r0) / 1024, r2 / 1024, \
                   (r2 - r0) / 1024, (k1 - k0) / tck, got
        else
            printf "RSS %.1f MiB before, %.1f MiB after the load (+%.1f); ", r0 / 1024, r2 / 1024, (r2 - r0) / 1024
        printf "load average %s -> %s\n", la0, la1
        printf "%d %s %f %f\n", pair, mode, rate, us >> results
    }'
}

echo "events-bench: server $BIN; $(nproc) cores, $placement; $PAIRS pairs of ${SECONDS_PER_RUN} s runs, $TASKS create tasks, $CLIENTS clients"
for pair in $(seq 1 "$PAIRS"); do
    if [ $((pair % 2)) = 1 ]; then
        run "$pair" without
        run "$pair" with
    else
        run "$pair" with
        run "$pair" without
    fi
done

# Per pair: the change with the clients; then the medians.
awk '
    { rate[$1, $2] = $3; us[$1, $2] = $4; if ($1 > pairs) pairs = $1 }
    function median(a, n,    i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
        for (p = 1; p <= pairs; p++) {
            dr[p] = (rate[p, "with"] - rate[p, "without"]) * 100 / rate[p, "without"]
            dc[p] = (us[p, "with"] - us[p, "without"]) * 100 / us[p, "without"]
            printf "pair %d: creates/s %d without, %d with (%+.1f%%); server CPU/create %.1f us without, %.1f us with (%+.1f%%)\n", \
                   p, rate[p, "without"], rate[p, "with"], dr[p], us[p, "without"], us[p, "with"], dc[p]
        }
        printf "median over %d pairs: creates/s %+.1f%%, server CPU per create %+.1f%%\n", pairs, median(dr, pairs), median(dc, pairs)
    }' "$work/results"
echo "events-bench: load average at the end $(load_average)"
