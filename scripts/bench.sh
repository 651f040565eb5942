#!/usr/bin/env bash
# `npm run bench [-- NAME...]`: set up, then run the benchmarks and write docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The diagnose benchmark compares with guestfish (libguestfs), which only it needs.
if ! command -v guestfish >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libguestfs-tools >&2
fi
UV_THREADPOOL_SIZE=8 npx tsx bench/run.ts "$@"
