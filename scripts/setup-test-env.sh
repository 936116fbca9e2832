#!/usr/bin/env bash
# Installs everything the test suite needs on Debian/Ubuntu: system packages when missing,
# then a virtualenv in .venv with LessonGate and its dev extras. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# command-to-check:debian-package (or shared-library-soname:debian-package)
needed=(
  "chromium:chromium"
  "nft:nftables"
  "Xvfb:xvfb"
  "ip:iproute2"
  "unshare:util-linux"
  "curl:curl"
  "libxcb-icccm.so.4:libxcb-icccm4"
  "libxcb-keysyms.so.1:libxcb-keysyms1"
  "debootstrap:debootstrap"
  "makensis:nsis"
  "shellcheck:shellcheck"
  "systemd-analyze:systemd"
)
missing=()
for pair in "${needed[@]}"; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 \
    || /sbin/ldconfig -p 2>/dev/null | awk -v l="$cmd" '$1 == l {f=1} END {exit !f}' \
    || missing+=("$pkg")
done
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=("python3-venv")
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

stamp=.venv/.lessongate-deps
want=$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi

# The server's storage tests need PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`); this
# machine kind ships one, which may simply be stopped.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1; then
  echo "setup: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
