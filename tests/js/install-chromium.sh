#!/usr/bin/env bash
# Installs Debian's chromium, which the headless-browser WebSocket test
# drives (tests/e2e/websocket_clients.rs). Needs root (or sudo) and the
# Debian package registry; does nothing when chromium is already there.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-chromium.sh: installing chromium with apt-get" >&2
if ! $sudo apt-get install -y -qq chromium >/dev/null 2>&1; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version >&2
