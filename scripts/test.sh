#!/usr/bin/env bash
# Runs every test: unit tests and integration tests against private redis-servers the tests
# start themselves. Installs libhiredis-dev and redis-server first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests
scripts/check-generated.sh
swift build --build-tests
exec swift test --skip-build "$@"
