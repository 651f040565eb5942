#!/usr/bin/env bash
# `npm start`: set up what is missing (packages, build, sample store), then run the main job on
# the sample store: the terminal UI on a terminal, `diagnose` of the corrupted layer otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
sample=samples/out
args=(--store "qemu:$PWD/$sample/store" --job-log samples/job.log --expected samples/expected
      --ssh-key "$sample/ssh/id_ed25519" --corpus-guest /home/opam/opam-repository)
if [ -t 0 ] && [ -t 1 ] && bin/layer-forensics inspect --help >/dev/null 2>&1; then
  bin/layer-forensics inspect "${args[@]}" "$@" || rc=$?
  # Exit 1 means corruption found, which is what the sample is for.
  [ "${rc:-0}" -le 1 ]; exit
fi
echo "npm start: no terminal for the UI; running diagnose on the sample's corrupted layer" >&2
bin/layer-forensics diagnose "${args[@]}" "$@" || rc=$?
# Exit 1 means corruption found, which is what the sample is for.
[ "${rc:-0}" -le 1 ]
