#!/usr/bin/env bash
# Builds the PyInstaller bundles into DIST (default dist/), reproducibly: a fixed hash seed, every
# timestamp clamped to the last commit's time (or SOURCE_DATE_EPOCH when the caller sets one).
#   installer/build.sh [DIST] [WORK]
set -euo pipefail
cd "$(dirname "$0")/.."
dist=${1:-dist}
work=${2:-build/pyinstaller}
py=${PYTHON:-.venv/bin/python}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 1700000000)
fi
export SOURCE_DATE_EPOCH PYTHONHASHSEED=0
"$py" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$dist" --workpath "$work" installer/lessongate-agent.spec
# The files' own mtimes end up in the .deb/.pkg/zip: clamp them too.
for bundle in "$dist"/lessongate-agent "$dist"/lessongate-panel; do
  [ -d "$bundle" ] || continue
  find "$bundle" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
done
echo "built:" "$dist"/lessongate-*
