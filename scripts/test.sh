#!/usr/bin/env bash
# Runs Gatehouse's whole test suite. This is the README's test command and
# exactly what CI runs (.ci/run calls it with CI=true).
#
# Needs Go, and PostgreSQL for the PostgreSQL store and multi-instance tests:
# GATEHOUSE_TEST_POSTGRES_DSN (default
# postgres://postgres@127.0.0.1:5432/test?sslmode=disable) names a database
# in which the tests create, and drop, schemas of their own. Without a
# reachable server those tests skip, saying so. The browser tests also need
# Debian's Chromium and npm (for axe-core), which this script installs when
# missing. Under CI=true a missing test dependency is a failure, never a
# skip.
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

# setup <what> <command...> runs an install step. Under CI a failure stops
# the run; elsewhere the tests that need <what> skip, saying why.
setup() {
	local what=$1
	shift
	if ! "$@"; then
		if [ "${CI:-}" = "true" ]; then
			echo "cannot install $what (CI=true: a missing test dependency is a failure)" >&2
			exit 1
		fi
		echo "warning: cannot install $what; the tests that need it will be skipped" >&2
	fi
}

echo "== browser test dependencies"
# Debian's Chromium for integration/browser_test.go.
chromium=${GATEHOUSE_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
	setup chromium sh -c "$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium"
fi
# axe-core for the accessibility checks, pinned, in a gitignored cache
# outside the module (no node_modules in the repository).
axe_version=4.14.1
axe_dir=.cache/axe
axe_js=$axe_dir/node_modules/axe-core/axe.min.js
if ! grep -qs "\"version\": \"$axe_version\"" "$axe_dir/node_modules/axe-core/package.json"; then
	setup axe-core npm install --silent --no-audit --no-fund --prefix "$axe_dir" "axe-core@$axe_version"
fi
export GATEHOUSE_AXE_JS="$PWD/$axe_js"

echo "== go vet"
go vet ./...

echo "== unit, store, end-to-end and browser tests"
go test -count=1 -timeout 20m ./...

echo "== race detector on the protocol core and stores"
go test -count=1 -race -timeout 10m ./authserver/...

echo "== fuzzing: every target for 3 s (SECURITY.md: run them longer)"
./scripts/fuzz.sh 3s
