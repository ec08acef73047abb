#!/usr/bin/env bash
# Two builds of the server, side by side: creates/s of OLD and NEW on the memory store (STORE=sqlite: each on
# a fresh SQLite file), driven by wrk over
# loopback with the reference POST in alternating rounds (so the machine's noise hits both), and NEW as a
# share of OLD per round and in the median. Use it to measure a change against its parent:
#
#   git worktree add /tmp/parent HEAD~1 && (cd /tmp/parent && cargo build --release -p openframe-server)
#   scripts/ab-bench.sh /tmp/parent/target/release/openframe target/release/openframe [seconds=5] [rounds=5]
#
# (Before the crate split the binary was built with `-p openframe-http`.) Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1; new=$2; secs=${3:-5}; rounds=${4:-5}; conns=64
work=$(mktemp -d "${TMPDIR:-/tmp}/openframe-ab.XXXXXX")
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export OPENFRAME_ADMIN_PASSWORD=bench
store() { [ "${STORE:-memory}" = sqlite ] && echo "sqlite://$work/$1.db" || echo memory://; }
RUST_LOG=warn "$old" serve --listen 127.0.0.1:18381 --store "$(store old)" 2>"$work/old.log" & pids+=($!)
RUST_LOG=warn "$new" serve --listen 127.0.0.1:18382 --store "$(store new)" 2>"$work/new.log" & pids+=($!)
for port in 18381 18382; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
done
cp scripts/load/create.lua "$work/post.lua"
run() { wrk -t1 -c"$conns" -d"${secs}s" -s "$work/post.lua" "http://127.0.0.1:$1/api/now/openframe/voice-interaction" | sed -n 's/^RESULT //p'; }
ratios=()
for r in $(seq "$rounds"); do
  a=$(run 18381); b=$(run 18382)
  ratios+=("$(python3 -c "print(round($b/$a, 3))")")
  echo "round $r: old $a creates/s, new $b creates/s, new/old ${ratios[-1]}"
done
echo "median new/old: $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
