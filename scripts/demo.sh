#!/usr/bin/env bash
# Installs tdvc's dependencies, builds it, and runs the main job end to end on a local folder
# remote (no cloud account needed): version a sample dataset twice, push it, clone the Git
# repository elsewhere, pull the data, and go back to the first version.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
TDVC="node $PWD/packages/cli/bin/tdvc.js"
work=$(mktemp -d "${TMPDIR:-/tmp}/tdvc-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.com GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.com
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

mkdir -p "$work/project" "$work/remote"
cd "$work/project"
git init -q -b main
step tdvc init; $TDVC init
mkdir -p data/images data/labels
for i in $(seq 1 200); do head -c $((1024 + i * 13)) /dev/urandom > "data/images/img_$i.bin"; echo "$i,$((i % 10))" > "data/labels/$i.csv"; done
step tdvc add data; $TDVC add data
git add .tdvc/config .tdvc/.gitignore data.tdvc .gitignore && git commit -qm "dataset v1"
step tdvc remote add -d local "$work/remote"; $TDVC remote add -d local "$work/remote"
git commit -qam "add local remote"
step tdvc push; $TDVC push

for i in $(seq 1 20); do echo "$i,relabelled" > "data/labels/$i.csv"; done
rm data/images/img_200.bin
head -c 4096 /dev/urandom > data/images/img_new.bin
step tdvc status; $TDVC status
step tdvc add data; $TDVC add data
git commit -qam "dataset v2: relabel 20 files, swap one image"
step tdvc push; $TDVC push

cd "$work"
step git clone project clone; git clone -q project clone
cd clone
step tdvc pull; $TDVC pull
step tdvc status; $TDVC status
test "$(cat data/labels/1.csv)" = "1,relabelled"

step "git checkout HEAD~2 -- data.tdvc && tdvc pull   # back to dataset v1"
git checkout -q HEAD~2 -- data.tdvc
$TDVC pull
test "$(cat data/labels/1.csv)" = "1,1"
test -f data/images/img_200.bin && test ! -e data/images/img_new.bin
step tdvc status; $TDVC status
printf '\nDemo finished: dataset v1 and v2 were versioned, pushed to %s, pulled into a clone, and v1 restored.\n' "$work/remote"
