#!/usr/bin/env bash
# Everything a fresh machine needs before `npm start` or `npm test`, and nothing when it is done:
#  - npm packages (npm ci), which include Node.js 22 itself (the `node` devDependency) so that
#    every npm script runs on Node 22 whatever Node the machine ships;
#  - the Firestore and Pub/Sub emulators from google-cloud-cli (checked, installed if missing
#    and possible, otherwise a clear message saying how to get them);
#  - Chromium for the dashboard's browser tests (Debian's package, installed if missing and possible).
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=node_modules/.setup-stamp
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

node_modules/.bin/node scripts/require-node.mjs
bash scripts/ensure-emulators.sh
bash scripts/ensure-browser.sh
echo "setup: ready (node $(node_modules/.bin/node --version))"
