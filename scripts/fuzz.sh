#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz / libFuzzer) of the parsers hostile input reaches first, for a bounded
# time per target. Usage:
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      # default 180 s each; targets: json_request
#                                                          # xml_request encoded_query oauth_form batch_request
#   scripts/fuzz.sh build                                  # only build the targets (what CI does)
#
# The committed seeds are fuzz/corpus/TARGET; what a run discovers goes to a scratch directory, so the
# committed corpus stays small. A crash is written to fuzz/artifacts/TARGET/ and fails the script.
# Runs at nice 10: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
# cargo fuzz passes rustc flags that are nightly-only in name (-Z…); only a stable toolchain is installed, so
# let it accept them. No sanitizer (-s none): the code under test is safe Rust, and libFuzzer still finds
# panics, overflows (debug assertions are on), timeouts and runaway memory.
export RUSTC_BOOTSTRAP=1
fuzz=(nice -n 10 cargo fuzz)
all=(json_request xml_request encoded_query oauth_form batch_request)

if [ "${1:-}" = build ]; then
  "${fuzz[@]}" build -s none
  exit 0
fi

seconds=${1:-180}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

for target in "${targets[@]}"; do
  scratch=$(mktemp -d)
  log=$(mktemp)
  echo "fuzz.sh: $target for ${seconds}s" >&2
  status=0
  "${fuzz[@]}" run -s none "$target" "$scratch" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  found=$(ls "fuzz/artifacts/$target" 2>/dev/null | wc -l)
  echo "fuzz.sh: $target: ${seconds}s, ${runs:-?} executions, ${cov:-cov: ?}, exit $status, $found artifact(s) in fuzz/artifacts/$target"
  if [ "$status" -ne 0 ]; then
    tail -40 "$log" >&2
    rm -rf "$scratch"
    exit "$status"
  fi
  rm -rf "$scratch" "$log"
done
