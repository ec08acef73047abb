#!/usr/bin/env bash
# The Python clients people use with ServiceNow, pinned, in venvs under .ci/ for the tests that drive
# openframe with them (crates/openframe-server/tests/clients.rs):
# - ServiceNow's own pysnc, with requests-oauthlib for its OAuth password-grant flow (.ci/.venv-clients);
# - pysnow, in a venv of its own (.ci/.venv-pysnow), as it needs requests-oauthlib below 2.
# Idempotent; CI runs it before the tests, and a test whose venv is missing says so loudly outside CI (and
# fails under CI).
set -euo pipefail
cd "$(dirname "$0")/.."

PYSNC_VERSION=1.2.1
OAUTHLIB_PINS=(requests-oauthlib==2.0.0 oauthlib==3.2.2)
VENV=.ci/.venv-clients

PYSNOW_VERSION=0.7.17
PYSNOW_PINS=(ijson==2.6.1 oauthlib==3.2.2 python-magic==0.4.27 pytz==2019.3 requests-oauthlib==1.3.1 six==1.17.0)
PYSNOW_VENV=.ci/.venv-pysnow

if ! "$VENV/bin/python" -c "
import sys, pysnc, requests_oauthlib
sys.exit(pysnc.__version__ != '$PYSNC_VERSION' or requests_oauthlib.__version__ != '2.0.0')" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "pysnc==$PYSNC_VERSION" "${OAUTHLIB_PINS[@]}"
fi
echo "client-libs: pysnc $("$VENV/bin/python" -c 'import pysnc; print(pysnc.__version__)') in $VENV" >&2

pysnow_version() {
  "$PYSNOW_VENV/bin/python" -c "import importlib.metadata as m; print(m.version('pysnow'))" 2>/dev/null
}
if [ "$(pysnow_version)" != "$PYSNOW_VERSION" ]; then
  python3 -m venv "$PYSNOW_VENV"
  "$PYSNOW_VENV/bin/pip" install --quiet --disable-pip-version-check "pysnow==$PYSNOW_VERSION" "${PYSNOW_PINS[@]}"
fi
echo "client-libs: pysnow $(pysnow_version) in $PYSNOW_VENV" >&2
