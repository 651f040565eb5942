#!/usr/bin/env bash
# `npm start`: set up what is missing (packages, build, sample store), then run the main job on
# the sample store: the terminal UI on a terminal; otherwise `diagnose` of the bootable sample's
# corrupted layer (boot), of the OpenBSD-shaped sample's (its disk read directly), and an `audit`
# of the whole store.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
sample=samples/out
store="qemu:$PWD/$sample/store"
args=(--store "$store" --job-log samples/job.log --expected samples/expected
      --ssh-key "$sample/ssh/id_ed25519" --corpus-guest /home/opam/opam-repository)
# Exit 1 means corruption found (and 3 inconclusive layers in an audit), which is what the
# sample is for: only 2 (the tool could not do its job) fails.
ok() { [ "${1:-0}" -ne 2 ] && [ "${1:-0}" -le 3 ]; }
if [ -t 0 ] && [ -t 1 ] && bin/layer-forensics inspect --help >/dev/null 2>&1; then
  bin/layer-forensics inspect "${args[@]}" "$@" || rc=$?
  [ "${rc:-0}" -le 1 ]; exit
fi
echo "npm start: no terminal for the UI; running diagnose on the bootable sample's corrupted layer" >&2
bin/layer-forensics diagnose "${args[@]}" "$@" || rc=$?
ok "${rc:-0}"
echo "npm start: diagnose --via direct on the OpenBSD-shaped sample's corrupted layer (not bootable here)" >&2
bin/layer-forensics diagnose --via direct --store "$store" --job-log samples/openbsd/job.log \
  --expected "$sample/openbsd/expected" || rc2=$?
ok "${rc2:-0}"
echo "npm start: audit of the whole sample store (no expected sources)" >&2
bin/layer-forensics audit --store "$store" --no-cache || rc3=$?
ok "${rc3:-0}"
