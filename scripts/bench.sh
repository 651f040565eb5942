#!/usr/bin/env bash
# `npm run bench [-- NAME...]`: set up, then run the benchmarks and write docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
UV_THREADPOOL_SIZE=8 npx tsx bench/run.ts "$@"
