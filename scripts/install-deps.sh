#!/usr/bin/env bash
# Installs the system packages RelQ needs (Debian/Ubuntu) when they are missing:
# libhiredis-dev (the C client RelQ wraps) and redis-server (for the demo and the tests).
# With --tests, also stunnel4 (the TLS-tunnel test runs only where stunnel exists).
set -euo pipefail
missing=()
if [ "${1:-}" = "--tests" ]; then
  command -v stunnel4 >/dev/null 2>&1 || command -v stunnel >/dev/null 2>&1 || missing+=(stunnel4)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
fi
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
