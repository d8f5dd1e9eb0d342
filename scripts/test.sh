#!/usr/bin/env bash
# The one command that runs the tests on a fresh machine: set-up, then every tier (unit, integration,
# end to end) of every package against a real nats-server and real processes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
log="$(mktemp)"
set +e
npx turbo run test --concurrency=1 --continue --log-order=grouped 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -oE 'ℹ pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
failed=$(grep -oE 'ℹ fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
rm -f "$log"
echo
# "A function over ~80 lines is a smell, 150 is the ceiling" (libs/ and services/, non-test code).
node scripts/function-lengths.mjs --warn 150 || status=1
echo "tests: $passed passed, $failed failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
if [ "$passed" -eq 0 ]; then echo "no test ran" >&2; exit 1; fi
