#!/usr/bin/env bash
# What TLS and HTTP/2 cost on the create load: the release server on the memory store, driven over loopback
# with the reference POST by wrk over plain HTTP/1.1 and over HTTPS (HTTP/1.1), and by h2load over plain
# HTTP/2 (prior knowledge) and HTTPS HTTP/2, in alternating rounds so the machine's noise hits every mode.
# Prints each round's creates/s and the median of each mode as a share of plain HTTP/1.1.
#
#   scripts/tls-bench.sh [seconds=5] [connections=64] [rounds=3]
#
# Needs wrk and h2load (apt-get install wrk nghttp2-client; installed when missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-5}; conns=${2:-64}; rounds=${3:-3}
log() { echo "tls-bench: $*" >&2; }
for tool in wrk h2load; do
  command -v "$tool" >/dev/null && continue
  package=$([ "$tool" = wrk ] && echo wrk || echo nghttp2-client)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >&2 ||
    { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >&2; }
done
cargo build --release -q -p openframe-server --bin openframe >&2
bin=${CARGO_TARGET_DIR:-$root/target}/release/openframe
work=$(mktemp -d "${TMPDIR:-/tmp}/openframe-tls-bench.XXXXXX")
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

# A self-signed certificate for 127.0.0.1, with the openssl command line.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
export OPENFRAME_ADMIN_PASSWORD=bench
RUST_LOG=warn "$bin" serve --listen 127.0.0.1:18281 --store memory:// 2>"$work/plain.log" & pids+=($!)
RUST_LOG=warn "$bin" serve --listen 127.0.0.1:18282 --store memory:// \
  --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" 2>"$work/tls.log" & pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:18281/healthz >/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do curl -sfk https://127.0.0.1:18282/healthz >/dev/null && break; sleep 0.1; done

cp scripts/load/create.lua "$work/post.lua"
tr -d '\n' < docs/examples/create.json > "$work/create.json"
auth="Authorization: Basic $(printf 'admin:bench' | base64)"
path=/api/now/openframe/voice-interaction
wrk_run() { wrk -t1 -c"$conns" -d"${secs}s" -s "$work/post.lua" "$1$path" | sed -n 's/^RESULT //p'; }
h2_run() {
  h2load -D "$secs" -c "$conns" -m 1 -t 1 -d "$work/create.json" -H 'Content-Type: application/json' -H "$auth" \
    "$1$path" 2>&1 | awk '/^finished in/ {gsub(",", "", $4); print $4}' | sed 's/req\/s//'
}
declare -A results
for r in $(seq "$rounds"); do
  for mode in http1 https1 h2c h2; do
    case $mode in
      http1) v=$(wrk_run http://127.0.0.1:18281) ;;
      https1) v=$(wrk_run https://127.0.0.1:18282) ;;
      h2c) v=$(h2_run http://127.0.0.1:18281) ;;
      h2) v=$(h2_run https://127.0.0.1:18282) ;;
    esac
    echo "round $r $mode: ${v:-?} creates/s"
    results[$mode]="${results[$mode]:-} ${v:-0}"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(median <<<"${results[http1]}")
for mode in http1 https1 h2c h2; do
  m=$(median <<<"${results[$mode]}")
  echo "median $mode: $m creates/s ($(python3 -c "print(round($m/$base, 2) if $base else 0)") of plain HTTP/1.1)"
done
