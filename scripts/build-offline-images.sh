#!/usr/bin/env bash
# Builds Vigil's images FROM scratch out of host binaries, for machines that reach no image registry:
#
#   vigil-busybox:local   busybox-static, its applets linked in /bin (the demo workload, the tests' image)
#   vigil-nats:local      nats-server (+ the libraries ldd lists, + busybox for the healthcheck)
#   vigil:local           node + the libraries ldd lists + iproute2's ip + busybox, and the built repo
#                         (package.json files, dist/ folders, node_modules) under /app, user 1000
#
# Then: VIGIL_IMAGE=vigil:local NATS_IMAGE=vigil-nats:local docker-compose -f compose.yaml up -d
# Needs: docker, busybox-static, nats-server, node, iproute2, and the repo built (npx turbo run build).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
need() { command -v "$1" >/dev/null 2>&1 || { echo "build-offline-images: $1 not found ($2)" >&2; exit 2; }; }
need docker "apt-get install docker.io"
need node "Node.js ≥ 20"
need ip "apt-get install iproute2"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] && file -L "$BUSYBOX" 2>/dev/null | grep -q "dynamically" && BUSYBOX=""
[ -z "$BUSYBOX" ] && [ -x /bin/busybox ] && BUSYBOX=/bin/busybox
[ -n "$BUSYBOX" ] || { echo "build-offline-images: busybox-static not found (apt-get install busybox-static)" >&2; exit 2; }
NATS=$(command -v nats-server || ls /usr/sbin/nats-server 2>/dev/null || true)
[ -n "$NATS" ] || { echo "build-offline-images: nats-server not found (apt-get install nats-server)" >&2; exit 2; }
[ -f services/supervisor/dist/main.js ] || { echo "build-offline-images: build the repo first (npx turbo run build)" >&2; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Copies binaries and every library ldd lists for them into a root folder, keeping their paths.
with_libs() {
  local root=$1; shift
  for bin in "$@"; do
    local real; real=$(readlink -f "$bin")
    mkdir -p "$root$(dirname "$bin")"; cp -L "$real" "$root$bin"
    ldd "$real" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
      [ -e "$lib" ] || continue
      mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
    done
  done
}
busybox_root() {
  mkdir -p "$1/bin" "$1/tmp" "$1/etc"; cp -L "$BUSYBOX" "$1/bin/busybox"; chmod 1777 "$1/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/app:/bin/sh\n' > "$1/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\n' > "$1/etc/group"
}

echo "build-offline-images: vigil-busybox:local"
mkdir -p "$WORK/bb"; busybox_root "$WORK/bb"
cat > "$WORK/bb/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY . /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
CMD ["sleep", "3600"]
DOCKERFILE
docker build -q -t vigil-busybox:local "$WORK/bb" >/dev/null

echo "build-offline-images: vigil-nats:local ($("$NATS" --version 2>/dev/null || echo nats-server))"
mkdir -p "$WORK/nats"; busybox_root "$WORK/nats"; with_libs "$WORK/nats" "$NATS"
[ "$NATS" = /usr/bin/nats-server ] || { mkdir -p "$WORK/nats/usr/bin"; ln -sf "$NATS" "$WORK/nats/usr/bin/nats-server"; }
cat > "$WORK/nats/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY . /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin
EXPOSE 4222 8222
CMD ["nats-server", "-js", "-sd", "/data", "-m", "8222"]
DOCKERFILE
docker build -q -t vigil-nats:local "$WORK/nats" >/dev/null

echo "build-offline-images: vigil:local (node $(node --version))"
R="$WORK/vigil"; mkdir -p "$R/app" "$R/var/lib/vigil"; busybox_root "$R"
with_libs "$R" "$(readlink -f "$(command -v node)")" "$(command -v ip)"
[ "$(readlink -f "$(command -v node)")" = /usr/bin/node ] || ln -sf "$(readlink -f "$(command -v node)")" "$R/usr/bin/node"
# The built repo: package.json files, dist folders, runtime assets, node_modules (workspace links kept).
tar -C "$REPO" -cf - --exclude='*.test.js' --exclude='*.test.d.ts' --exclude='*.js.map' \
  package.json node_modules \
  $(ls -d libs/*/package.json libs/*/dist services/*/package.json services/*/dist packages/*/package.json packages/*/dist packages/*/bin packages/*/demo 2>/dev/null) \
  | tar -C "$R/app" -xf -
cat > "$R/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY . /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/chown", "-R", "1000:1000", "/var/lib/vigil"]
ENV PATH=/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin NODE_ENV=production VIGIL_DATA_DIR=/var/lib/vigil
WORKDIR /app
USER 1000:1000
ENTRYPOINT ["node"]
CMD ["packages/vigil/dist/main.js", "help"]
DOCKERFILE
docker build -q -t vigil:local "$R" >/dev/null
docker images --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^  (vigil|vigil-nats|vigil-busybox):local' || true
