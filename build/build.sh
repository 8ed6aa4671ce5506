#!/usr/bin/env bash
# Build upid with PyInstaller: dist/upid (one file) and dist/upid-<os>-<arch>.tar.gz (one folder: upid/upid and
# upid/_internal/), each with a .sha256 next to it. The commit is embedded: `upid --version`.
# Needs python3 with upid and its build extra: python3 -m pip install -e '.[build]'
set -euo pipefail
cd "$(dirname "$0")/.."
OS=$(uname -s | tr '[:upper:]' '[:lower:]')
ARCH=$(uname -m)
case "$ARCH" in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; esac
COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null || true)" ]; then COMMIT="$COMMIT-dirty"; fi

BUILD_INFO=upid/_build.py
trap 'rm -f "$BUILD_INFO"' EXIT
printf '"""Written by build/build.sh into a binary build; a source checkout has no such file."""\n\nCOMMIT = "%s"\n' \
  "$COMMIT" > "$BUILD_INFO"

OUT=build/out
rm -rf "$OUT/upid" "$OUT/upid-onedir" dist/upid dist/upid-*.tar.gz dist/*.sha256
python3 -m PyInstaller --noconfirm --log-level WARN --distpath "$OUT" --workpath "$OUT/work" build/upid.spec

mkdir -p dist
cp "$OUT/upid" dist/upid
TARBALL="upid-$OS-$ARCH.tar.gz"
tar -C "$OUT" --transform 's|^upid-onedir|upid|' -czf "dist/$TARBALL" upid-onedir
(cd dist && sha256sum upid > upid.sha256 && sha256sum "$TARBALL" > "$TARBALL.sha256")
echo "built dist/upid ($(du -h dist/upid | cut -f1)) and dist/$TARBALL ($(du -h "dist/$TARBALL" | cut -f1)), commit $COMMIT"
