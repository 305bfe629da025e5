#!/usr/bin/env bash
# Run every native fuzz target in the repository, each for FUZZTIME
# (default 30s), one after another: `go test -fuzz` takes one target of one
# package at a time. The targets are found, not listed, so a new
# `func FuzzX(f *testing.F)` in any _test.go file is run without editing
# this script or the Makefile (committed or not). Stops at the first failing target (its
# crasher is in the package's testdata/fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
n=0
while IFS=: read -r file name; do
	pkg=./$(dirname "$file")
	echo "== $pkg $name ($FUZZTIME)"
	"$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"
	n=$((n + 1))
done < <(git ls-files --cached --others --exclude-standard -- '*_test.go' | xargs grep -Ho '^func Fuzz[A-Za-z0-9_]*(' | sed 's/^\(.*\):func \(Fuzz[A-Za-z0-9_]*\)($/\1:\2/' | sort)
if [ "$n" -eq 0 ]; then
	echo "no fuzz targets found" >&2
	exit 1
fi
echo "fuzz: $n targets passed"
