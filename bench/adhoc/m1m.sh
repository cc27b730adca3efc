#!/bin/bash
# Ad hoc measurements of a tdvc repository whose dataset `data` is already added (BENCHMARKS.md,
# "Real files at 1,000,000"): tdvc next to find / cp -r, alternating; wall s, user, sys, peak RSS.
# Usage: bench/adhoc/m1m.sh REPO [SCRATCH]   (SCRATCH receives the moved-away data and the cp -r copy)
set -u
HERE=$(cd "$(dirname "$0")/../.." && pwd)
T="node ${TDVC_BIN:-$HERE/packages/cli/bin/tdvc.js}"
SCRATCH=${2:-$(dirname "$1")}
cd "$1"
t() { /usr/bin/time -f "$1 %e s wall %U u %S s %M KB" "${@:2}"; }
echo "load $(cut -d' ' -f1-3 /proc/loadavg) $(date +%T)"
for i in 1 2; do
  t find find data -printf '%s %T@ %i\n' > /dev/null
  t status-noop $T status -q
  t find find data -printf '%s %T@ %i\n' > /dev/null
  t add-noop $T add -q data
done
before=$(find .tdvc/cache/b3v1 -type f | wc -l)
echo "changed one file $(date +%T)" && head -c 3000 /dev/urandom > data/d0500/f0050.bin
t find find data -printf '%s %T@ %i\n' > /dev/null
t add-one $T add data
after=$(find .tdvc/cache/b3v1 -type f -newer data.tdvc -o -type f -cmin -2 | wc -l)
echo "objects before $before; new in the last 2 min: $(find .tdvc/cache/b3v1 -type f -mmin -2 | xargs -r cat | head -c 0; find .tdvc/cache/b3v1 -type f -mmin -2 -exec sh -c 'head -c 11 "$1" | grep -q "tdvc-tree 2" && stat -c %s "$1"' _ {} \; | awk '{s+=$1; n++} END {print n " tree nodes, " s " bytes"}')"
echo "load $(cut -d' ' -f1-3 /proc/loadavg) $(date +%T)"
mv data "$SCRATCH/trash-$$"
t checkout $T checkout -q
t cp-r cp -r data "$SCRATCH/cpcopy-$$"
t status-after-checkout $T status -q
echo "load $(cut -d' ' -f1-3 /proc/loadavg) $(date +%T)"
