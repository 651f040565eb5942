#!/usr/bin/env bash
# Everything: setup, type checking, the linter, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
npx eslint .
npx vitest run "$@"
