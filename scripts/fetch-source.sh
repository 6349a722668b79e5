#!/bin/sh
# fetch-source.sh PACKAGE DEST
#
# Fetch a third-party source package from Debian (apt-get source) at the
# version pinned in third_party/sources.txt, check every file against its
# pinned SHA-256, unpack it with Debian's own patches applied, then apply our
# patches from third_party/PACKAGE/*.patch. Nothing third-party is ever
# committed to the repository; this is the only way it enters the build.
set -eu

pkg=$1
dest=$2
top=$(cd "$(dirname "$0")/.." && pwd)
pins="$top/third_party/sources.txt"
dl="$(dirname "$dest")/downloads"

version=$(awk -v p="$pkg" '$1 == p { print $2; exit }' "$pins")
[ -n "$version" ] || { echo "fetch-source: $pkg is not pinned in $pins" >&2; exit 1; }

mkdir -p "$dl"
check() {
	awk -v p="$pkg" '$1 == p { print $4 "  " $3 }' "$pins" > "$dl/$pkg.sha256"
	(cd "$dl" && sha256sum --quiet --strict -c "$pkg.sha256") >/dev/null 2>&1
}

if ! check; then
	echo "fetch-source: apt-get source $pkg=$version"
	(cd "$dl" && apt-get source --download-only -qq "$pkg=$version" 2>&1 |
		grep -v 'unsandboxed as root' || true)
	if ! check; then
		(cd "$dl" && sha256sum -c "$pkg.sha256") >&2 || true
		echo "fetch-source: $pkg $version is missing or does not match its pinned SHA-256." >&2
		echo "fetch-source: is deb-src enabled? run 'make deps' as root." >&2
		exit 1
	fi
fi

dsc=$(awk -v p="$pkg" '$1 == p && $3 ~ /\.dsc$/ { print $3; exit }' "$pins")
rm -rf "$dest" "$dest.tmp"
dpkg-source --no-check -x "$dl/$dsc" "$dest.tmp" >/dev/null
for p in "$top"/third_party/"$pkg"/*.patch; do
	[ -f "$p" ] || continue
	echo "fetch-source: applying $(basename "$p")"
	patch -s -d "$dest.tmp" -p1 < "$p"
done
mv "$dest.tmp" "$dest"
# dpkg-source leaves a copy of the upstream tarball beside the tree.
rm -f "$(dirname "$dest")/${pkg}_"*.orig.tar.*
echo "$version" > "$dest/.gatehouse-version"
