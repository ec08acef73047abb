#!/usr/bin/env bash
# The test command: everything the tests need, then every test of the workspace.
# PostgreSQL tests run against the local server (scripts/postgres-test-db.sh prepares it); set
# OPENFRAME_TEST_POSTGRES_URL yourself to point them elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${OPENFRAME_TEST_POSTGRES_URL:-}" ]; then
  if url=$(scripts/postgres-test-db.sh); then
    export OPENFRAME_TEST_POSTGRES_URL="$url"
  elif [ "${CI:-}" = "true" ]; then
    echo "test.sh: PostgreSQL could not be prepared; CI needs it" >&2
    exit 1
  else
    echo "test.sh: PostgreSQL could not be prepared; its tests will say they were skipped" >&2
  fi
fi

cargo test --workspace --all-features --locked "$@"
