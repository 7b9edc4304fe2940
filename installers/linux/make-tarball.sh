#!/usr/bin/env bash
# Pack the till bundle (built by scripts/bundle.sh) into a tarball a shop unpacks into /opt:
#
#   bash scripts/bundle.sh && bash installers/linux/make-tarball.sh
#   -> dist/stockpilot-till-<version>-linux-<arch>.tar.gz
#
# The tarball holds stockpilot-till/ (the bundle, the .desktop entry and the icon) and
# stockpilot-till/install.sh, which links the launcher and the menu entry; see installers/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIST=${DIST:-dist}
BUNDLE="$DIST/stockpilot-till"
if [ ! -x "$BUNDLE/stockpilot-till" ]; then
  echo "No bundle in $BUNDLE: run 'bash scripts/bundle.sh' first." >&2
  exit 1
fi
VERSION=$("$BUNDLE/stockpilot-till" --version | awk '{print $NF}')
ARCH=$(uname -m)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

cp -a "$BUNDLE" "$STAGE/stockpilot-till"
cp installers/linux/stockpilot-till.desktop installers/linux/stockpilot-till.svg \
  "$STAGE/stockpilot-till/"
cat >"$STAGE/stockpilot-till/install.sh" <<'INSTALL'
#!/bin/sh
# Run from the unpacked folder, e.g. /opt/stockpilot-till (as root: menu entry for every user).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# PREFIX=/some/where installs there; else root installs for everyone, a user for themself.
if [ -n "${PREFIX:-}" ]; then
  APPS="$PREFIX/share/applications"; ICONS="$PREFIX/share/icons/hicolor/scalable/apps"
  BIN="$PREFIX/bin"
elif [ "$(id -u)" -eq 0 ]; then
  APPS=/usr/share/applications; ICONS=/usr/share/icons/hicolor/scalable/apps; BIN=/usr/local/bin
else
  APPS="$HOME/.local/share/applications"; ICONS="$HOME/.local/share/icons/hicolor/scalable/apps"
  BIN="$HOME/.local/bin"
fi
mkdir -p "$APPS" "$ICONS" "$BIN"
sed "s#/opt/stockpilot-till#$HERE#g" "$HERE/stockpilot-till.desktop" >"$APPS/stockpilot-till.desktop"
cp "$HERE/stockpilot-till.svg" "$ICONS/stockpilot-till.svg"
ln -sf "$HERE/stockpilot-till" "$BIN/stockpilot-till"
command -v update-desktop-database >/dev/null && update-desktop-database "$APPS" || true
echo "Installed: menu entry in $APPS, command $BIN/stockpilot-till"
echo "Check it: stockpilot-till --self-check"
INSTALL
chmod +x "$STAGE/stockpilot-till/install.sh"

OUT="$DIST/stockpilot-till-$VERSION-linux-$ARCH.tar.gz"
tar -C "$STAGE" -czf "$OUT" stockpilot-till
echo "$OUT ($(du -h "$OUT" | cut -f1))"
