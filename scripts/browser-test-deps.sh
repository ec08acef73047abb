#!/usr/bin/env bash
# What the workspace browser test (crates/openframe-server/tests/workspace_browser.rs) needs: Debian's Chromium
# (never a browser a test tool downloads), Node.js, and playwright-core from the committed package-lock.json.
# Idempotent; .ci/run calls it before the tests. Needs root for apt-get when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  if ! apt-get install -y --no-install-recommends "$@"; then
    apt-get update
    apt-get install -y --no-install-recommends "$@"
  fi
}

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "browser-test-deps: installing Debian's chromium and chromium-driver" >&2
  DEBIAN_FRONTEND=noninteractive apt_install chromium chromium-driver
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "browser-test-deps: installing Node.js and npm" >&2
  DEBIAN_FRONTEND=noninteractive apt_install nodejs npm
fi

cd crates/openframe-server/tests/browser
# playwright-core never downloads a browser by itself; the variable makes sure of it.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
echo "browser-test-deps: chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), node $(node --version), playwright-core ready" >&2
