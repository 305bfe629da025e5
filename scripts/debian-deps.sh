#!/usr/bin/env bash
# Installs the Debian packages the tests use as real third-party peers
# (rsyslog as a sender and a receiver, Python's syslog handler, headless
# Chromium), once: a package already installed is not asked for again, so a
# machine that ran it before pays nothing.
#
#   scripts/debian-deps.sh PACKAGE...   (default: the list below)
#
# Needs root (as on CI and the development machines) or sudo. Without
# either it says what is missing and exits 0: the tests that need a missing
# peer skip outside CI and fail under CI=true.
set -euo pipefail

pkgs=("$@")
if [[ ${#pkgs[@]} -eq 0 ]]; then
	pkgs=(rsyslog rsyslog-gnutls python3 python3-yaml systemd)
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null; then
		sudo=(sudo)
	else
		echo "debian-deps.sh: not root; missing packages: ${missing[*]}" >&2
		exit 0
	fi
fi
echo "debian-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
