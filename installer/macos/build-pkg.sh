#!/bin/sh
# Builds lessongate-agent-<version>.pkg with pkgbuild from the macOS PyInstaller bundle.
#   installer/macos/build-pkg.sh DIST VERSION OUT_DIR        (on macOS; CI: .github/workflows)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dist=$1
version=$2
out=$3
payload=$(mktemp -d)
trap 'rm -rf "$payload"' EXIT
mkdir -p "$payload/usr/local/lessongate" "$payload/Library/LaunchDaemons" "$out"
cp -R "$dist/lessongate-agent" "$payload/usr/local/lessongate/"
cp "$here/org.lessongate.agent.plist" "$payload/Library/LaunchDaemons/"
chmod 0644 "$payload/Library/LaunchDaemons/org.lessongate.agent.plist"
chmod 0755 "$here/scripts/preinstall" "$here/scripts/postinstall"
pkgbuild --root "$payload" --scripts "$here/scripts" --identifier org.lessongate.agent \
    --version "$version" --install-location / --ownership recommended \
    "$out/lessongate-agent-$version.pkg"
