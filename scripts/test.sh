#!/usr/bin/env bash
# Runs Gatehouse's whole test suite. This is the README's test command and
# exactly what CI runs (.ci/run calls it with CI=true).
#
# Needs only Go. Under CI=true a missing test dependency is a failure, never
# a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== unit, store and end-to-end tests"
go test -count=1 -timeout 20m ./...

echo "== race detector on the protocol core and stores"
go test -count=1 -race -timeout 10m ./authserver/...

echo "== fuzzing: every target for 3 s (SECURITY.md: run them longer)"
./scripts/fuzz.sh 3s
