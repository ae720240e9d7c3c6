#!/usr/bin/env bash
# Runs every test: unit tests and integration tests against private redis-servers the tests
# start themselves. Installs libhiredis-dev and redis-server first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests
scripts/check-generated.sh
swift build --build-tests
# Serialized: the fault tests kill, freeze and flush servers and measure timings, and the test
# tools (raw RESP, DEBUG SLEEP, child processes) make blocking calls; run in parallel on a 2-core
# machine they starve the 2-thread Swift concurrency pool. Serialized, the suite takes about a minute.
exec swift test --skip-build --no-parallel "$@"
