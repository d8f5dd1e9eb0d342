#!/usr/bin/env bash
# Builds LazyFS (a FUSE file system whose `lazyfs::clear-cache` drops unsynced writes: a power cut)
# for the power-cut test and bench, from Debian packages only. Idempotent: does nothing when the
# binary is there. Prints the path of the binary on its last line.
#   LAZYFS_SRC   the sources (default ../shared/tools/lazyfs, read-only)
#   LAZYFS_BUILD where to build (default .cache/lazyfs; not committed)
set -euo pipefail
cd "$(dirname "$0")/.."
# The shared tools sit beside the checkout (../shared); a clone elsewhere falls back to /work/shared.
src="${LAZYFS_SRC:-}"
if [ -z "$src" ]; then
  for c in "$(cd .. && pwd)/shared/tools/lazyfs" /work/shared/tools/lazyfs; do [ -d "$c/lazyfs" ] && { src="$c"; break; }; done
  src="${src:-$(cd .. && pwd)/shared/tools/lazyfs}"
fi
dir="${LAZYFS_BUILD:-$PWD/.cache/lazyfs}"
bin="$dir/lazyfs/build/lazyfs"
# The marker is written last: a build cut short is started over.
if [ -x "$bin" ] && [ -f "$dir/.built" ]; then echo "$bin"; exit 0; fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "lazyfs: need root for: $*" >&2; return 1; fi; }
pkgs="g++ cmake libfuse3-dev fuse3 libtoml11-dev libspdlog-dev"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null || { echo "lazyfs: need the Debian packages$missing (no apt-get here)" >&2; exit 2; }
  echo "lazyfs: installing$missing (Debian packages)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
[ -d "$src/lazyfs" ] || { echo "lazyfs: no sources at $src (set LAZYFS_SRC)" >&2; exit 2; }
# Built where it stays: the binary finds libpcache by its absolute build path (rpath).
rm -rf "$dir" && mkdir -p "$(dirname "$dir")"
cp -r "$src" "$dir"
chmod -R u+w "$dir"
rm -rf "$dir/libs/libpcache/build" "$dir/lazyfs/build"
(cd "$dir/libs/libpcache" && ./build.sh) >&2
(cd "$dir/lazyfs" && ./build.sh) >&2
[ -x "$bin" ] && touch "$dir/.built"
[ -x "$bin" ] || { echo "lazyfs: build finished without $bin" >&2; exit 1; }
echo "$bin"
