#!/usr/bin/env bash
# Schema-driven testing: schemathesis (pinned, from PyPI, in a venv under .ci/) against the real `openframe`
# binary on a fresh SQLite store, using the OpenAPI document the server itself serves, with Basic auth.
# Fails on any 5xx, any answer that breaks the document, and any other failed check (.ci/schemathesis.toml).
#
#   scripts/schemathesis.sh            # builds the debug binary if needed; about three minutes
#   SCHEMATHESIS_MAX_TIME=60 scripts/schemathesis.sh
#   SCHEMATHESIS_REPORT_DIR=test-output/schemathesis scripts/schemathesis.sh   # keep JUnit and VCR reports
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
MAX_TIME=${SCHEMATHESIS_MAX_TIME:-150}

# Python 3.12 or newer where the machine has one: 3.11's ast.parse fails with "AST constructor recursion depth
# mismatch" deep inside schemathesis's coverage phase (a CPython bug, not ours). 3.11 is the fallback.
pick_python() {
  local candidate
  for candidate in "${SCHEMATHESIS_PYTHON:-}" python3.13 python3.12 \
      "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3 python3; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo python3
}
PYTHON=$(pick_python)
PY_VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV=${SCHEMATHESIS_VENV:-.ci/.venv-$PY_VERSION}

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
echo "schemathesis.sh: schemathesis $SCHEMATHESIS_VERSION on Python $PY_VERSION ($PYTHON)" >&2

cargo build --locked -p openframe-server --bin openframe
BIN=target/debug/openframe

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

STORE="sqlite://$WORK/openframe.db"
PASSWORD="schemathesis-$(date +%s)-$RANDOM"
# A provider application, so that positive cases naming it can succeed.
"$BIN" provider add --inbound-id genesys-cloud-1 --name "Genesys Cloud" --store "$STORE" 2>/dev/null

OPENFRAME_ADMIN_PASSWORD="$PASSWORD" RUST_LOG=warn \
  "$BIN" serve --listen 127.0.0.1:0 --store "$STORE" 2>"$WORK/server.log" &
SERVER_PID=$!

ADDR=
for _ in $(seq 1 100); do
  ADDR=$(sed -n 's/^openframe: listening on http:\/\///p' "$WORK/server.log" | head -n 1)
  [ -n "$ADDR" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    cat "$WORK/server.log" >&2
    echo "schemathesis.sh: the server did not start" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$ADDR" ]; then
  echo "schemathesis.sh: the server did not say where it listens" >&2
  exit 1
fi

status=0
"$VENV/bin/schemathesis" --config-file .ci/schemathesis.toml run "http://$ADDR/api/openapi.json" \
  --url "http://$ADDR" \
  --auth "admin:$PASSWORD" \
  --max-time "$MAX_TIME" \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --workers 2 \
  --request-timeout 10 \
  --no-color \
  --report junit,vcr --report-dir "${SCHEMATHESIS_REPORT_DIR:-$WORK/report}" || status=$?

if grep -q "panicked" "$WORK/server.log"; then
  echo "schemathesis.sh: the server panicked:" >&2
  grep -A5 "panicked" "$WORK/server.log" >&2
  status=1
fi
exit "$status"
