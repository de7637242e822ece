#!/usr/bin/env bash
# Runs Gatehouse's Go fuzz targets (func Fuzz... in *_test.go).
#
#   scripts/fuzz.sh                        every target for 3 s (what test.sh does)
#   scripts/fuzz.sh 10m                    every target for 10 minutes
#   scripts/fuzz.sh 1h FuzzAuthorizeRequest   one target (or a regexp) for an hour
#
# Each package's instrumented test binary is built once and runs its
# targets from the package directory, so testdata/fuzz seeds are used and
# new corpus entries go where `go test -fuzz` keeps them (GOCACHE). A
# failing input is written to the package's testdata/fuzz/<target>/:
# fix the bug, then commit the file as a regression seed (plain `go test`
# runs it from then on).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-3s}
only=${2:-.}
# Short runs spend their time fuzzing, not minimising new inputs; long
# runs keep Go's default (60 s per input). A short run that hangs fails.
short=()
case $fuzztime in *s) short=(-test.fuzzminimizetime=20x -test.timeout=5m) ;; esac

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cache=$(go env GOCACHE)/fuzz
module=$(go list -m)

for dir in $(grep -l '^func Fuzz' --include='*_test.go' -r authserver caddymodule | xargs -n1 dirname | sort -u); do
	targets=$(grep -h '^func Fuzz' "$dir"/*_test.go | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' | grep -E -- "$only" || true)
	[ -z "$targets" ] && continue
	first=$(echo "$targets" | head -n1)
	exe="$bin/$(echo "$dir" | tr / _).test"
	go test -c -fuzz "^${first}\$" -o "$exe" "./$dir"
	for target in $targets; do
		echo "-- $dir $target ($fuzztime)"
		status=0
		(cd "$dir" && "$exe" -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="$fuzztime" \
			"${short[@]}" -test.fuzzcachedir="$cache/$module/$dir") >"$bin/out" 2>&1 || status=$?
		grep -v '^fuzz: elapsed' "$bin/out" || true
		if [ "$status" -ne 0 ]; then
			echo "FAIL: $dir $target (input in $dir/testdata/fuzz/$target/)"
			exit 1
		fi
	done
done
