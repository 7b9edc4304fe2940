#!/usr/bin/env bash
# Build the till as a one-folder PyInstaller bundle and prove it starts offscreen.
#
#   bash scripts/bundle.sh              # -> dist/stockpilot-till/stockpilot-till
#   bash scripts/bundle.sh --no-setup   # skip the system packages and .venv check (CI, tests)
#   DIST=/tmp/out bash scripts/bundle.sh
#
# Then, on Linux, installers/linux/make-tarball.sh packs dist/ into a tarball for shops.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--no-setup" ]; then
  bash scripts/system-deps.sh
  bash scripts/venv.sh
fi
PYTHON=${PYTHON:-.venv/bin/python}
DIST=${DIST:-dist}
WORK=${WORK:-build/pyinstaller}

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
  echo "PyInstaller is missing: install the dev extra (pip install -e '.[dev]')" >&2
  exit 1
fi

echo "== building the till bundle into $DIST/stockpilot-till"
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" installers/stockpilot-till.spec

APP="$DIST/stockpilot-till/stockpilot-till"
echo "== $APP --version"
"$APP" --version
echo "== $APP --self-check (offscreen)"
QT_QPA_PLATFORM=offscreen "$APP" --self-check
echo "== done: $(du -sh "$DIST/stockpilot-till" | cut -f1) in $DIST/stockpilot-till"
