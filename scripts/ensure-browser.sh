#!/usr/bin/env bash
# The dashboard's browser tests drive a real Chromium through playwright-core. Debian's
# chromium package is the one used here (playwright's own browser downloads are not reachable
# from these machines). Installs it when missing and possible; otherwise says how, and the
# browser tests skip (outside CI) with the same hint.
set -euo pipefail

chromium_path=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$chromium_path" ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "setup: installing Chromium for the dashboard's browser tests (apt-get install chromium)"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
    exit 0
  fi
fi
echo "setup: no Chromium at $chromium_path; the dashboard's browser tests need it (Debian/Ubuntu: apt-get install chromium; or set CHROMIUM_PATH)" >&2
