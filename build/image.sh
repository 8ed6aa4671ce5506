#!/usr/bin/env bash
# Build upid's OCI image offline: dist/upid-image.tar (an OCI archive), from build/Containerfile.
#   1. the one-folder build (build/build.sh), unless it is there already;
#   2. a minimal Debian root filesystem from Debian's archive with mmdebstrap (libc, libstdc++, zlib, tzdata,
#      CA-free: the cluster's CA comes with the service account), cached in $UPID_IMAGE_CACHE;
#   3. buildah: the root filesystem as the base image, then `buildah bud --isolation chroot` of the Containerfile.
# Needs root (or a user namespace) for buildah, and the Debian packages buildah and mmdebstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${UPID_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/upid-image}
OUT=${1:-dist/upid-image.tar}
SUITE=bookworm
PACKAGES=base-files,base-passwd,libc6,libgcc-s1,libstdc++6,zlib1g,tzdata,netbase
VERSION=$(python3 -c 'import upid; print(upid.__version__)')
COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
CREATED=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
BUILDAH=(buildah --root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver vfs)

[ -x build/out/upid-onedir/upid ] || build/build.sh
mkdir -p "$CACHE" "$(dirname "$OUT")"
BASE_TAR="$CACHE/base-$SUITE-$(echo "$PACKAGES" | sha256sum | cut -c1-12).tar"
if [ ! -s "$BASE_TAR" ]; then  # the slow part: cached between runs
  mmdebstrap --quiet --variant=extract --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' "$SUITE" "$CACHE/partial-$$.tar"  # the name says: a tarball
  mv "$CACHE/partial-$$.tar" "$BASE_TAR"
fi
BASE_IMAGE="localhost/upid-base:$SUITE-$(sha256sum "$BASE_TAR" | cut -c1-12)"
if ! "${BUILDAH[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  ctr=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" add "$ctr" "$BASE_TAR" / >/dev/null
  "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
fi
"${BUILDAH[@]}" bud --quiet --isolation chroot --pull-never --layers=false \
  --build-arg BASE="$BASE_IMAGE" --build-arg VERSION="$VERSION" --build-arg COMMIT="$COMMIT" \
  --build-arg CREATED="$CREATED" -f build/Containerfile -t "localhost/upid:$VERSION" . >/dev/null
rm -f "$OUT"
"${BUILDAH[@]}" push --quiet "localhost/upid:$VERSION" "oci-archive:$OUT:upid:$VERSION"
echo "built $OUT (upid:$VERSION, commit $COMMIT, $(du -h "$OUT" | cut -f1))"
