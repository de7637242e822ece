#!/usr/bin/env bash
# Runs Gatehouse's whole test suite. This is the README's test command and
# exactly what CI runs (.ci/run calls it with CI=true).
#
# Needs Go, and PostgreSQL for the PostgreSQL store and multi-instance tests:
# GATEHOUSE_TEST_POSTGRES_DSN (default
# postgres://postgres@127.0.0.1:5432/test?sslmode=disable) names a database
# in which the tests create, and drop, schemas of their own. Without a
# reachable server those tests skip, saying so; under CI=true a missing
# test dependency is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

# CI and GATEHOUSE_TEST_POSTGRES_DSN reach the test binaries through the
# environment (go test passes it on). The DSN itself is never printed: it
# may hold a password.
if [[ -n "${GATEHOUSE_TEST_POSTGRES_DSN:-}" ]]; then
	echo "== PostgreSQL tests use GATEHOUSE_TEST_POSTGRES_DSN; CI=${CI:-unset}"
else
	echo "== PostgreSQL tests use the default DSN (postgres@127.0.0.1:5432/test); CI=${CI:-unset}"
fi

echo "== go vet"
go vet ./...

echo "== unit, store and end-to-end tests"
go test -count=1 -timeout 20m ./...

echo "== race detector on the protocol core and stores"
go test -count=1 -race -timeout 10m ./authserver/...
