#!/usr/bin/env bash
# Installs what tdvc needs on a fresh Debian machine: pnpm and the workspace's packages.
# With --test it also installs what the test suite uses: git, b3sum (digest cross-check),
# xfsprogs (reflink tests on an XFS image), Ceph RGW (the real S3 server the tests start) and
# CephFS with ceph-fuse (the real distributed file system the shared-cache tests mount twice)
# and s3fs (a POSIX view of the test bucket, as FSx for Lustre gives one).
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

need=()
command -v git >/dev/null || need+=(git)
if [ "$want_test" = 1 ]; then
  command -v b3sum >/dev/null || need+=(b3sum)
  command -v mkfs.xfs >/dev/null || need+=(xfsprogs)
  command -v radosgw >/dev/null || need+=(radosgw ceph-mon ceph-osd)
  command -v ceph-mds >/dev/null || need+=(ceph-mds ceph-mon ceph-osd)
  command -v ceph-fuse >/dev/null || need+=(ceph-fuse)
  command -v s3fs >/dev/null || need+=(s3fs)
  command -v zsh >/dev/null || need+=(zsh)
fi
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v pnpm >/dev/null || ! pnpm --version 2>/dev/null | grep -q '^10\.'; then
  npm install -g pnpm@10 >/dev/null 2>&1
fi
pnpm install --frozen-lockfile --reporter=silent
pnpm run --silent build
