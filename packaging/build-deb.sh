#!/bin/sh
# build-deb.sh BUILD VERSION: package build/gatehouse with its unit, default
# configuration and sysusers/tmpfiles snippets as BUILD/gatehouse_VERSION_ARCH.deb.
# A plain dpkg-deb build of a staged tree: the binary is already static, so
# no shared-library dependencies need computing.
set -eu

build=$1
version=$2
arch=$(dpkg --print-architecture)
root="$build/deb/root"
top=$(cd "$(dirname "$0")/.." && pwd)

rm -rf "$build/deb"
make --no-print-directory -C "$top" install DESTDIR="$(cd "$build" && pwd)/deb/root" PREFIX=/usr BUILD="$build" >/dev/null
strip --strip-unneeded "$root/usr/sbin/gatehouse"
install -d -m 0755 "$root/DEBIAN"
size=$(du -sk "$root" --exclude=DEBIAN | cut -f1)

cat > "$root/DEBIAN/control" <<CONTROL
Package: gatehouse
Version: $version
Architecture: $arch
Maintainer: Gatehouse developers <dev@gatehouse.invalid>
Installed-Size: $size
Section: admin
Priority: optional
Depends: systemd
Description: on-premise access-control appliance
 Gatehouse manages people, credentials and door terminals for a site that
 cannot use a cloud service: HTTPS console and REST API, field-level
 encrypted SQLite store, MQTT device link with X.509 client certificates,
 verified encrypted backups. One static binary run as a systemd service.
CONTROL

echo /etc/gatehouse/gatehouse.conf > "$root/DEBIAN/conffiles"

cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
	systemd-sysusers gatehouse.conf
	systemd-tmpfiles --create gatehouse.conf
	chgrp gatehouse /etc/gatehouse/gatehouse.conf
	chmod 0640 /etc/gatehouse/gatehouse.conf
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload
		systemctl enable gatehouse.service >/dev/null
		systemctl restart gatehouse.service || true
	fi
fi
POSTINST

cat > "$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	systemctl disable --now gatehouse.service >/dev/null || true
fi
PRERM

cat > "$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
# State (keys, database, backups) is never removed automatically, not even on
# purge: it holds the only copy of a site's data. Remove /var/lib/gatehouse
# by hand when it is truly no longer needed.
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
POSTRM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

out="$build/gatehouse_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "deb: $out"
