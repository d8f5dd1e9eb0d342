#!/usr/bin/env bash
# Installs what Vigil needs on a fresh machine and builds it. Idempotent: safe to run every time.
# `--tests` also installs what only the tests need: Chromium (console test), Docker (container tests).
set -euo pipefail
for_tests=false
[ "${1:-}" = "--tests" ] && for_tests=true
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "setup: need root for: $*" >&2; return 1; fi; }

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (https://nodejs.org or your package manager)" >&2
  exit 2
fi

if [ -z "${VIGIL_NATS_SERVER:-}" ] && ! command -v nats-server >/dev/null; then
  if command -v apt-get >/dev/null; then
    echo "setup: installing nats-server (Debian package)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  else
    echo "setup: nats-server is missing: install it (brew install nats-server, or a release from https://github.com/nats-io/nats-server/releases) or set VIGIL_NATS_SERVER" >&2
    exit 2
  fi
fi
# Debian's package enables a system-wide nats-server service; Vigil runs its own on its own port.
# The console's browser test drives Debian's chromium with playwright-core (which downloads no browser).
if $for_tests && [ -z "${VIGIL_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
  echo "setup: installing chromium (Debian package, for the console's browser test)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The gateway's /metrics int test runs `promtool check metrics` (Debian package prometheus; its service is not needed).
if $for_tests && [ -z "${VIGIL_PROMTOOL:-}" ] && ! command -v promtool >/dev/null && command -v apt-get >/dev/null; then
  echo "setup: installing prometheus (Debian package, for promtool in the metrics test)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# vigil install's test runs `systemd-analyze verify` on the unit it writes (Debian package systemd;
# installing it does not make systemd PID 1 in a container). Perl (perl-base) sends sd_notify datagrams.
if $for_tests && ! command -v systemd-analyze >/dev/null && command -v apt-get >/dev/null; then
  echo "setup: installing systemd (for systemd-analyze in the install test)"
  as_root apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi

# Containers (docs/containers.md): the docker driver's and compose tests need a Docker engine,
# docker-compose and busybox-static (the FROM-scratch test image). Start dockerd when none answers.
if $for_tests && command -v apt-get >/dev/null && { ! command -v docker >/dev/null || ! command -v docker-compose >/dev/null || [ ! -x /bin/busybox ]; }; then
  echo "setup: installing docker.io, docker-compose, busybox-static (Debian packages)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose busybox-static >/dev/null
fi
if $for_tests && command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd in the background (log: /tmp/dockerd.log)"
  as_root sh -c 'nohup dockerd >/tmp/dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || echo "setup: dockerd did not answer within 30 s (see /tmp/dockerd.log)" >&2
fi

# The power-cut test (packages/vigil/src/powercut.e2e.test.ts) runs vigil up on LazyFS, built from
# ../shared/tools/lazyfs with Debian packages (g++ cmake libfuse3-dev fuse3 libtoml11-dev libspdlog-dev)
# into .cache/lazyfs; scripts/lazyfs.sh does nothing when it is built already.
if $for_tests && command -v apt-get >/dev/null && [ -z "${LAZYFS_BIN:-}" ]; then
  bash scripts/lazyfs.sh >/dev/null || echo "setup: LazyFS did not build (the power-cut test will say what is missing)" >&2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  # `npm install`, not `npm ci`: the registry these machines reach lacks turbo's macOS/Windows
  # binaries, so npm ci refuses the lock file; install keeps the locked versions all the same.
  npm install --no-audit --no-fund --loglevel=error
fi
echo "setup: building"
npx turbo run build --output-logs=errors-only
