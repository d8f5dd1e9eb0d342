#!/usr/bin/env bash
# The one command that runs Vigil on this machine: set-up, then `vigil up` (embedded nats-server,
# every service, the demo workload unless ./vigil.yaml says otherwise). Extra arguments go to `vigil up`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/scripts/setup.sh"
exec node "$here/packages/vigil/dist/main.js" up "$@"
