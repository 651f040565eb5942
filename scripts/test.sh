#!/usr/bin/env bash
# Everything: setup, type checking, the linter, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
npx eslint .
# The layering of design.md section 8: no cycles, no import pointing up the pipeline.
npx depcruise src --config .dependency-cruiser.cjs
results=$(mktemp)
trap 'rm -f "$results"' EXIT
rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || rc=$?
# A plain closing line any CI can read.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$results" || true
exit $rc
