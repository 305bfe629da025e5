#!/usr/bin/env bash
# Builds ZincSearch, an Elasticsearch-protocol server (bulk and search under
# /es/), for the tests and benchmarks of drains/elasticsearch. No
# Elasticsearch is packaged for the build machines; Zinc is a Go module, so
# only Go is needed.
#
# The module does not build as published: its root package embeds web/dist
# (not in the module), and its pyroscope profiler pulls godeltaprof, which
# does not compile on current Go. This script copies the module out of the
# module cache, adds a placeholder web/dist/index.html, removes the profiler
# and builds the server. It is idempotent: an existing binary is kept.
#
# Prints the binary's path on stdout; everything else goes to stderr.
#
#   ZINCSEARCH_VERSION  module version (default v0.4.10)
#   SLUICE_CACHE        cache folder (default $HOME/.cache/sluice)
#
# Run it (see drains/elasticsearch/zinc_test.go for the same env):
#   ZINC_SERVER_ADDRESS=127.0.0.1 ZINC_SERVER_PORT=4080 ZINC_DATA_PATH=/tmp/zinc \
#   ZINC_FIRST_ADMIN_USER=admin ZINC_FIRST_ADMIN_PASSWORD=admin \
#   ZINC_TELEMETRY=false ZINC_SENTRY=false GIN_MODE=release "$(scripts/zincsearch.sh)"
set -euo pipefail

version="${ZINCSEARCH_VERSION:-v0.4.10}"
module="github.com/zincsearch/zincsearch"
cache="${SLUICE_CACHE:-${HOME:?HOME is not set}/.cache/sluice}/zincsearch"
bin="$cache/bin/zincsearch"

die() { echo "zincsearch.sh: $*" >&2; exit 1; }

if [[ -x "$bin" ]]; then
	echo "$bin"
	exit 0
fi

command -v go >/dev/null || die "go is not on PATH"

# Download (or find) the module in the module cache. Run outside any module
# so that the caller's go.mod is neither read nor changed.
tmp="$(mktemp -d)"
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
moddir="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$module@$version" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')" ||
	die "go mod download $module@$version failed"
[[ -n "$moddir" && -d "$moddir" ]] || die "module directory of $module@$version not found"

# Copy into a writable source tree (the module cache is read-only).
src="$tmp/src"
cp -R "$moddir" "$src" || die "copy $moddir"
chmod -R u+w "$src"

# (b) The root package embeds web/dist, which is not in the module.
mkdir -p "$src/web/dist"
echo '<!doctype html><title>zincsearch</title>' >"$src/web/dist/index.html"

# (c) Remove the pyroscope profiler: its import and its function body.
main="$src/cmd/zincsearch/main.go"
grep -q 'pyroscope-io/client/pyroscope' "$main" || die "unexpected $main: no pyroscope import"
awk '
	/"github.com\/pyroscope-io\/client\/pyroscope"/ { next }
	/^func profiling\(\) \{/ { print "func profiling() {}"; skip = 1; next }
	skip && /^}/ { skip = 0; next }
	!skip { print }
' "$main" >"$main.new" && mv "$main.new" "$main"
grep -q 'pyroscope\.' "$main" && die "could not remove the profiler from $main"
# The profiler was the only user of "strings" in main.go.
if ! grep -q 'strings\.' "$main"; then
	sed -i '/^[[:space:]]*"strings"$/d' "$main"
fi

# Build. GOFLAGS=-mod=mod lets go fetch Zinc's dependencies; GOWORK=off
# keeps a caller's workspace out of it.
mkdir -p "$cache/bin"
echo "zincsearch.sh: building $module@$version (takes a minute or two)" >&2
(cd "$src" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 \
	go build -trimpath -o "$bin.tmp" ./cmd/zincsearch) >&2 ||
	die "go build of $module@$version failed"
mv "$bin.tmp" "$bin"
echo "$bin"
