#!/usr/bin/env bash
# Installs the system packages RelQ needs (Debian/Ubuntu) when they are missing:
# libhiredis-dev (the C client RelQ wraps) and redis-server (for the demo and the tests).
set -euo pipefail
missing=()
dpkg -s libhiredis-dev >/dev/null 2>&1 || missing+=(libhiredis-dev)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "relq: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
