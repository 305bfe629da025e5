#!/usr/bin/env bash
# The end-to-end benchmark that `make bench` runs: builds sluiced and the
# benchmark commands into benchmarks/out/ (git-ignored), installs rsyslog if
# it is missing, runs every workload (see benchmarks/cmd/benchrun) and writes
# benchmarks/RESULTS.md.
#
#   benchmarks/run.sh            default run: 2,000,000 messages, 3 runs each (~10 min)
#   benchmarks/run.sh --quick    development: 200,000 messages, 1 run, RESULTS.md untouched
#   benchmarks/run.sh -- -only 'rings|limit' -n 500000    extra flags go to benchrun
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
args=()
while (($#)); do
	case "$1" in
	--quick) quick=1 ;;
	--) shift; args+=("$@"); break ;;
	*) args+=("$1") ;;
	esac
	shift
done

out=benchmarks/out
mkdir -p "$out"
echo "building into $out/" >&2
go build -o "$out/" ./benchmarks/cmd/...
go build -o "$out/sluice" ./cmd/sluice # the ship and agent rows
if ! go build -o "$out/sluiced" ./cmd/sluiced 2>"$out/sluiced-build.log"; then
	echo "sluiced does not build (see $out/sluiced-build.log); its rows will be skipped" >&2
	rm -f "$out/sluiced"
fi

norsyslog=()
if ! command -v rsyslogd >/dev/null || ! compgen -G '/usr/lib/*/rsyslog/omkafka.so' >/dev/null; then
	echo "installing rsyslog and rsyslog-kafka" >&2
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rsyslog rsyslog-kafka; } >"$out/apt.log" 2>&1; then
		echo "rsyslog not available (installation failed, see $out/apt.log)" >&2
		norsyslog=(-no-rsyslog "rsyslog not available (installation failed)")
	fi
fi
# Packages start a system rsyslogd when they can; the benchmark runs its own.

# ZincSearch, the Elasticsearch-protocol server of the Elasticsearch drain row.
zinc=()
if zbin=$(bash scripts/zincsearch.sh 2>"$out/zincsearch-build.log" | tail -1) && [[ -x "$zbin" ]]; then
	zinc=(-zincsearch "$zbin")
else
	echo "ZincSearch did not build (see $out/zincsearch-build.log); the Elasticsearch row will be skipped" >&2
fi

if ((quick)); then
	exec "$out/benchrun" -bin "$out" -quick "${norsyslog[@]}" "${zinc[@]}" "${args[@]}"
fi
"$out/benchrun" -bin "$out" -results benchmarks/RESULTS.md "${norsyslog[@]}" "${zinc[@]}" "${args[@]}"
# The tables are generated; what the profiles say about the limits is
# written by hand in ANALYSIS.md and carried into RESULTS.md.
if [[ -f benchmarks/ANALYSIS.md ]]; then
	{ echo; cat benchmarks/ANALYSIS.md; } >>benchmarks/RESULTS.md
fi
