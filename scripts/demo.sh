#!/usr/bin/env bash
# The main job: producers, consumers (one crashes on purpose) and a sweeper, against $REDIS_URL
# or a throwaway redis-server started for the run. Extra arguments go to `relq demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --product relq
exec .build/debug/relq demo "$@"
