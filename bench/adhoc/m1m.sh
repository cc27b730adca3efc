#!/bin/bash
# ad hoc 1M-file measurements: tdvc (this build) next to find / cp -r, alternating; wall s, user, sys, peak RSS
T="node ${TDVC_BIN:-/work/main/packages/cli/bin/tdvc.js}"
cd /work/data/r1m
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
mv data /work/data/trash-$$ 
t checkout $T checkout -q
t cp-r cp -r data /work/data/cpcopy-$$
t status-after-checkout $T status -q
echo "load $(cut -d' ' -f1-3 /proc/loadavg) $(date +%T)"
