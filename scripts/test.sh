#!/usr/bin/env bash
# Runs Gatehouse's test suite. `./scripts/test.sh` is the README's test
# command and exactly what CI runs (.ci/run calls it with CI=true):
#
#   ./scripts/test.sh          everything: vet, every test (PostgreSQL,
#                              browser and multi-instance included), the
#                              race detector with coverage of the core, and
#                              every fuzz target for 3 s
#   ./scripts/test.sh quick    the developer's fast path: vet and every
#                              test in -short mode (no browser, no
#                              multi-instance processes, no race, no fuzz)
#
# Needs Go, and PostgreSQL for the PostgreSQL store and multi-instance tests:
# GATEHOUSE_TEST_POSTGRES_DSN (default
# postgres://postgres@127.0.0.1:5432/test?sslmode=disable) names a database
# in which the tests create, and drop, schemas of their own. Without a
# reachable server those tests skip, saying so. The browser tests also need
# Debian's Chromium and npm (for axe-core), which this script installs when
# missing; the MCP end-to-end test needs Node, and the script installs the
# MCP SDK with npm ci from its lockfile. Under CI=true a missing test dependency is a failure, never a
# skip. Every skipped test is listed, with its reason, at the end of each
# test step.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
case $mode in
full | quick) ;;
*)
	echo "usage: $0 [quick]" >&2
	exit 2
	;;
esac
if [ "$mode" = quick ] && [ "${CI:-}" = "true" ]; then
	echo "CI runs the full suite: quick mode is for developers" >&2
	exit 2
fi
start=$SECONDS

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

if [ "$mode" = full ]; then
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
fi

# The Node packages of the integration tests, each pinned by the
# package-lock.json of its directory (node_modules is gitignored), installed
# with npm ci when missing or older than the lockfile. Quick mode runs those
# tests too, so both modes install them.
#   integration/mcpclient:    the official MCP SDK (mcp_node_test.go)
#   integration/oidcclient:   openid-client, PAR and the device flow (openid_client_test.go)
#   integration/oidcprovider: the certified oidc-provider as an upstream identity
#                             provider (federation_node_test.go)
#   integration/oauthclient:  oauth4webapi, private_key_jwt and DPoP (oauth4webapi_test.go)
npm_pinned() { # <directory> <package the tests need> <name to print>
	if [ ! -d "$1/node_modules/$2" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
		echo "== $3 (npm ci)"
		setup "$3" npm ci --silent --no-audit --no-fund --prefix "$1"
	fi
}
if command -v npm >/dev/null; then
	npm_pinned integration/mcpclient @modelcontextprotocol/sdk "the MCP SDK"
	npm_pinned integration/oidcclient openid-client "openid-client"
	npm_pinned integration/oidcprovider oidc-provider "oidc-provider"
	npm_pinned integration/oauthclient oauth4webapi "oauth4webapi"
elif [ "${CI:-}" = "true" ]; then
	echo "npm is missing (CI=true: the MCP SDK, openid-client, oidc-provider and oauth4webapi tests need Node)" >&2
	exit 1
fi

echo "== gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:" $unformatted >&2
	exit 1
fi
go vet ./...
if [ "$mode" = full ]; then
	echo "== staticcheck"
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
fi

# testsummary prints one line per package, the output of failed tests, and
# every skipped test with its reason.
summary=$(mktemp -d)/testsummary
trap 'rm -rf "$(dirname "$summary")"' EXIT
go build -o "$summary" ./scripts/testsummary

if [ "$mode" = quick ]; then
	echo "== unit, store and end-to-end tests (-short)"
	go test -json -short -count=1 -timeout 10m ./... | "$summary"
	echo "== quick run passed in $((SECONDS - start)) s"
	exit 0
fi

echo "== unit, store, end-to-end and browser tests"
go test -json -count=1 -timeout 20m ./... | "$summary" -slowest 10

# The core's own tests (not the end-to-end ones) are what its coverage
# counts: every endpoint is tested on its own, not only through Caddy. A
# package's statements count as covered by the tests of any core package
# (the SQL shared by both stores is tested through each backend).
echo "== race detector and coverage of the protocol core"
go test -json -count=1 -race -coverpkg=./authserver/... -coverprofile="$(dirname "$summary")/core.cover" -timeout 10m ./authserver/... |
	"$summary" -coverprofile "$(dirname "$summary")/core.cover"

echo "== fuzzing: every target for 3 s (SECURITY.md: run them longer)"
./scripts/fuzz.sh 3s
echo "== full run passed in $((SECONDS - start)) s"
