#!/bin/sh
# Install everything the build and the tests need on Debian 12, as root.
#
# Idempotent and quick when nothing is missing: it only touches apt when a
# package is absent or deb-src is not yet enabled. deb-src is enabled by
# rewriting "Types: deb" in the existing deb822 sources, so no host is named
# here and the machine's own mirror (or snapshot) is used.
set -eu

PACKAGES_FILE=${1:-$(dirname "$0")/../third_party/packages.txt}
packages=$(grep -v '^#' "$PACKAGES_FILE" | tr -s ' \n' ' ')

missing=""
for p in $packages; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

# Node.js and npm run the browser and API-description tooling from the npm
# registry. A machine that already has them (from NodeSource, whose nodejs
# conflicts with Debian's npm package) keeps its own; otherwise Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
	packages="$packages nodejs npm"
fi

need_src=0
if ! grep -Rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ 2>/dev/null &&
   ! grep -qs '^deb-src ' /etc/apt/sources.list 2>/dev/null; then
	need_src=1
fi

if [ -z "$missing" ] && [ "$need_src" = 0 ]; then
	echo "deps: all packages present, deb-src enabled"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; deb-src needed: $need_src" >&2
	echo "deps: run 'make deps' as root (or with sudo) once" >&2
	exit 1
fi

if [ "$need_src" = 1 ]; then
	found=0
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		if grep -q '^Types: deb$' "$f"; then
			sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
			found=1
		fi
	done
	if [ "$found" = 0 ] && [ -f /etc/apt/sources.list ]; then
		# One-line format: add a deb-src twin for every deb line.
		sed -n 's/^deb \(.*\)$/deb-src \1/p' /etc/apt/sources.list > /etc/apt/sources.list.d/gatehouse-src.list
		found=1
	fi
	[ "$found" = 1 ] || { echo "deps: no apt source found to enable deb-src on" >&2; exit 1; }
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $packages
echo "deps: installed:$missing"
