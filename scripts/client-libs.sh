#!/usr/bin/env bash
# The Python clients people use with ServiceNow, pinned, in a venv under .ci/ for the tests that drive
# openframe with them (crates/openframe-server/tests/clients.rs): ServiceNow's own pysnc, with requests-oauthlib
# for its OAuth password-grant flow. Idempotent; CI runs
# it before the tests, and a test whose venv is missing says so loudly outside CI (and fails under CI).
set -euo pipefail
cd "$(dirname "$0")/.."

PYSNC_VERSION=1.2.1
OAUTHLIB_PINS=(requests-oauthlib==2.0.0 oauthlib==3.2.2)
VENV=.ci/.venv-clients

if ! "$VENV/bin/python" -c "
import sys, pysnc, requests_oauthlib
sys.exit(pysnc.__version__ != '$PYSNC_VERSION' or requests_oauthlib.__version__ != '2.0.0')" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "pysnc==$PYSNC_VERSION" "${OAUTHLIB_PINS[@]}"
fi
echo "client-libs: pysnc $("$VENV/bin/python" -c 'import pysnc; print(pysnc.__version__)') in $VENV" >&2
