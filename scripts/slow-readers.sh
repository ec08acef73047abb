#!/usr/bin/env bash
# Clients that stop reading: the release server on a SQLite store of 10,000 interactions, and CLIENTS clients
# that each ask for a 10,000-row page of the Table API and then read nothing. Prints the server's peak RSS
# while they hang on, and how many of their connections the server is still writing to once the write
# deadline has passed; exits non-zero when the peak exceeds MAX_RSS_MIB or any is.
#
#   scripts/slow-readers.sh            # CLIENTS=200 MAX_RSS_MIB=256 DEADLINE=5 (--response-write-timeout)
#
# Everything is on 127.0.0.1; every wait is bounded; the server is stopped on exit however it happens.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
clients=${CLIENTS:-200}
max_rss=${MAX_RSS_MIB:-256}
deadline=${DEADLINE:-5}
log() { echo "slow-readers: $*" >&2; }

log "building the release server and the dump generator"
cargo build --release -q -p openframe-server --bin openframe --example synthetic_dump >&2
bin=${CARGO_TARGET_DIR:-$root/target}/release/openframe
work=$(mktemp -d "${TMPDIR:-/tmp}/openframe-slow-readers.XXXXXX")
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

store="sqlite://$work/of.db"
"${CARGO_TARGET_DIR:-$root/target}"/release/examples/synthetic_dump 10000 > "$work/dump.jsonl"
"$bin" import --store "$store" < "$work/dump.jsonl" 2>/dev/null
OPENFRAME_PASSWORD=slow-readers "$bin" user add reader --role sn_openframe_api_user --store "$store" 2>/dev/null
"$bin" serve --store "$store" --listen 127.0.0.1:0 \
    --max-connections $((clients + 64)) --response-write-timeout "$deadline" 2> "$work/server.log" &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
addr=$(sed -n 's/.*listening on http:\/\///p' "$work/server.log" | head -n 1)
[ -n "$addr" ] || { cat "$work/server.log" >&2; exit 1; }
port=${addr##*:}
rss() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$server/status"; }
log "server on $addr, RSS $(rss) MiB; $clients clients ask for 10,000 rows each and read nothing"

python3 - "$addr" "$clients" "$deadline" <<'PY' &
import base64, socket, sys, time
addr, clients, deadline = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
host, port = addr.rsplit(":", 1)
auth = base64.b64encode(b"reader:slow-readers").decode()
request = (f"GET /api/now/table/interaction?sysparm_limit=10000 HTTP/1.1\r\nHost: {addr}\r\n"
           f"Authorization: Basic {auth}\r\n\r\n").encode()
held = []
for _ in range(clients):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, int(port)))
    s.sendall(request)
    held.append(s)
time.sleep(deadline * 4 + 10)   # hold on, reading nothing, well past the deadline
PY
clients_pid=$!

peak=0
for _ in $(seq $((deadline * 4 + 5))); do
    now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
    sleep 1
done
# A connection the server still writes to has bytes in its send queue; idle keep-alive ones (answered, and
# closed for a newcomer when needed) do not.
held=$(ss -Htn state established "( sport = :$port )" | awk '$2 > 0' | wc -l)
kill "$clients_pid" 2>/dev/null || true
log "peak RSS ${peak} MiB (at most $max_rss); connections still being written to past the deadline: $held"
[ "$peak" -le "$max_rss" ] && [ "$held" -eq 0 ]
