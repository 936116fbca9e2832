#!/usr/bin/env bash
# Assembles the lessongate-agent .deb from the PyInstaller bundles (installer/build.sh) with
# dpkg-deb: no debhelper, so it builds on any Debian/Ubuntu with dpkg alone.
#   installer/debian/build-deb.sh [DIST] [OUT_DIR]      -> OUT_DIR/lessongate-agent_<ver>_<arch>.deb
# Every file is owned by root:root; timestamps are clamped to SOURCE_DATE_EPOCH (default: the
# last commit's time), so the same bundles give the same .deb.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dist=$(cd "${1:-$root/dist}" && pwd)
out=${2:-$root/dist}
py=${PYTHON:-$root/.venv/bin/python}

[ -x "$dist/lessongate-agent/lessongate-agent" ] \
  || { echo "build-deb: no agent bundle in $dist (run make build first)" >&2; exit 1; }
version=$(cd "$root" && "$py" -c 'import policies; print(policies.__version__)')
arch=$(dpkg --print-architecture)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 1700000000)
fi
export SOURCE_DATE_EPOCH

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/pkg
install -d -m 0755 "$pkg/DEBIAN" "$pkg/opt/lessongate" "$pkg/usr/bin" "$pkg/lib/systemd/system" \
  "$pkg/etc/lessongate" "$pkg/usr/share/doc/lessongate-agent"
cp -a "$dist/lessongate-agent" "$pkg/opt/lessongate/"
if [ -d "$dist/lessongate-panel" ]; then
  cp -a "$dist/lessongate-panel" "$pkg/opt/lessongate/"
fi
ln -s /opt/lessongate/lessongate-agent/lessongate-agent "$pkg/usr/bin/lessongate-agent"
install -m 0644 "$root/installer/systemd/lessongate-agent.service" "$pkg/lib/systemd/system/"
install -m 0644 "$here/agent.toml" "$pkg/etc/lessongate/agent.toml"
for script in config postinst prerm postrm; do
  install -m 0755 "$here/$script" "$pkg/DEBIAN/$script"
done
install -m 0644 "$here/templates" "$pkg/DEBIAN/templates"
printf '/etc/lessongate/agent.toml\n' >"$pkg/DEBIAN/conffiles"
chmod 0644 "$pkg/DEBIAN/conffiles"
cat >"$pkg/usr/share/doc/lessongate-agent/copyright" <<'COPYRIGHT'
LessonGate. License: Apache-2.0 (see /usr/share/common-licenses/Apache-2.0).
The bundled Python runtime and libraries keep their own licenses (PSF, BSD, MIT, LGPL for Qt).
COPYRIGHT

# Modes: directories and programs 0755, everything else 0644 (the bundles come from a build tree
# with whatever umask the builder had).
find "$pkg" -path "$pkg/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
find "$pkg/opt" -type f \( -perm -u=x -o -name '*.so' -o -name '*.so.*' \) -exec chmod 0755 {} +
find "$pkg/opt" -type f ! -perm -u=x -exec chmod 0644 {} +
chmod 0644 "$pkg/lib/systemd/system/lessongate-agent.service" "$pkg/etc/lessongate/agent.toml" \
  "$pkg/usr/share/doc/lessongate-agent/copyright"

size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: lessongate-agent
Version: $version
Architecture: $arch
Maintainer: LessonGate maintainers <lessongate@lessongate.invalid>
Installed-Size: $size
Depends: libc6 (>= 2.36), nftables, debconf (>= 0.5) | debconf-2.0, passwd
Recommends: iproute2
Section: admin
Priority: optional
Homepage: https://lessongate.invalid/
Description: keeps school computers to the district's Acceptable Use Policy
 LessonGate closes the Internet on a lab or classroom computer until a teacher
 opens a supervised session for specific curriculum objectives; during the
 session only the resources linked to those objectives can be reached.
 .
 This package installs the endpoint agent as a systemd service that starts
 before the display manager, its filtering proxy, nftables rules and managed
 browser policies. Silent enrollment: /etc/lessongate/enroll.env or preseeded
 debconf answers (lessongate/server, lessongate/token, lessongate/room).
CONTROL
chmod 0644 "$pkg/DEBIAN/control"
find "$pkg" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$out"
deb="$out/lessongate-agent_${version}_${arch}.deb"
dpkg-deb --root-owner-group "-Z${DEB_COMPRESSION:-gzip}" --build "$pkg" "$deb" >/dev/null
echo "$deb"
