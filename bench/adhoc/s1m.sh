#!/bin/bash
# ad hoc: no-op status and add of this build on a copy of SOURCE_DATA_DIR (e.g. bench/.work/scale-real/src-1000000/data),
# alternating with find -printf; wall, CPU, peak RSS. SCRATCH_DIR is deleted and made again.
set -e
T="node ${TDVC_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/packages/cli/bin/tdvc.js}"
R=${1:?usage: s1m.sh SCRATCH_DIR SOURCE_DATA_DIR}
if [ -e "$R" ] && [ ! -d "$R/.tdvc" ]; then echo "refusing: $R exists and is not a scratch repository of this script" >&2; exit 2; fi
rm -rf "$R"; mkdir -p "$R"; cd "$R"
git init -q -b main; $T init -q
echo "copy $(date +%T)"; cp -r "${2:?usage: s1m.sh SCRATCH_DIR SOURCE_DATA_DIR}" data; sync
echo "cold add $(date +%T)"; /usr/bin/time -f "add-cold %e s wall %U u %S s %M KB" $T add -q data
sleep 5
t() { /usr/bin/time -f "$1 %e s wall %U u %S s %M KB" "${@:2}"; }
echo "load $(cut -d' ' -f1-3 /proc/loadavg) $(date +%T)"
for i in 1 2 3; do
  t find find data -printf '%s %T@ %i\n' > /dev/null
  t status-noop $T status -q
  t find find data -printf '%s %T@ %i\n' > /dev/null
  t add-noop $T add -q data
done
t find find data -printf '%s %T@ %i\n' > /dev/null
echo "load $(cut -d' ' -f1-3 /proc/loadavg) $(date +%T)"
