#!/usr/bin/env bash
# Makes sure the official Firestore and Pub/Sub emulators (google-cloud-cli components) and a
# Java runtime are present. They are preinstalled on this project's machines; elsewhere this
# tries the ordinary installers and otherwise says what to install.
set -euo pipefail

sdk_root() {
  local gcloud_bin
  gcloud_bin=$(command -v gcloud 2>/dev/null) || return 1
  dirname "$(dirname "$(readlink -f "$gcloud_bin")")"
}

have_emulators() {
  local root
  root=$(sdk_root) || return 1
  [ -x "$root/platform/cloud-firestore-emulator/cloud_firestore_emulator" ] &&
    [ -x "$root/platform/pubsub-emulator/bin/cloud-pubsub-emulator" ]
}

if ! command -v java >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing a Java runtime for the emulators (apt-get)"
    apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null
  else
    echo "setup: the emulators need Java 11+; install a JRE (e.g. apt-get install default-jre-headless)" >&2
    exit 1
  fi
fi

if ! have_emulators; then
  if command -v gcloud >/dev/null 2>&1 && gcloud components install --quiet cloud-firestore-emulator pubsub-emulator >/dev/null 2>&1; then
    :
  elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] &&
    apt-get install -y -qq google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator >/dev/null 2>&1; then
    :
  fi
fi

if ! have_emulators; then
  cat >&2 <<'MSG'
setup: the Firestore and Pub/Sub emulators were not found.
  Install google-cloud-cli (https://cloud.google.com/sdk/docs/install) and then either
    gcloud components install cloud-firestore-emulator pubsub-emulator
  or, with Google's apt repository,
    apt-get install google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator
MSG
  exit 1
fi
