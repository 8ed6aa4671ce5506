#!/bin/sh
# Install upid from a release artifact: the one-file binary (upid) or the one-folder build (upid-<os>-<arch>.tar.gz),
# from a local file or a URL. The artifact's SHA-256 is checked before anything is installed.
#
#   sh install.sh --from ./dist/upid                       # ~/.local/bin/upid and ~/.local/bin/kubectl-upid
#   sh install.sh --from https://example.org/upid-linux-amd64.tar.gz --sha256 <hex>
#   sudo sh install.sh --from ./upid-linux-amd64.tar.gz --system   # /usr/local/bin
#   sh install.sh --uninstall                               # removes the program; your store (~/.upid) stays
#
# The expected SHA-256 comes from --sha256, or else from the file next to the artifact named ARTIFACT.sha256
# (what build/build.sh writes). Without either, nothing is installed.
set -eu

prog=$(basename "$0")
from="" sha="" prefix="${HOME}/.local" mode=install plugin=1

die() { echo "error: $*" >&2; exit "${2:-1}"; }
usage() {
  cat <<EOF
usage: $prog --from FILE|URL [--sha256 HEX] [--prefix DIR | --system] [--no-kubectl-plugin]
       $prog --uninstall [--prefix DIR | --system]

  --from FILE|URL      the one-file binary (upid) or the one-folder tarball (upid-<os>-<arch>.tar.gz)
  --sha256 HEX         the artifact's expected SHA-256 [default: read from FILE.sha256 or URL.sha256]
  --prefix DIR         install into DIR/bin (and DIR/lib/upid for the tarball) [default: ~/.local]
  --system             --prefix /usr/local (needs root)
  --no-kubectl-plugin  do not add the kubectl-upid link
  --uninstall          remove what this script installs; the store in ~/.upid is kept
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --from) [ $# -ge 2 ] || die "--from needs a file or URL" 2; from=$2; shift 2 ;;
    --sha256) [ $# -ge 2 ] || die "--sha256 needs a value" 2; sha=$2; shift 2 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder" 2; prefix=$2; shift 2 ;;
    --system) prefix=/usr/local; shift ;;
    --no-kubectl-plugin) plugin=0; shift ;;
    --uninstall) mode=uninstall; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" 2 ;;
  esac
done

bin="$prefix/bin"
lib="$prefix/lib/upid"

if [ "$mode" = uninstall ]; then
  removed=0
  for f in "$bin/upid" "$bin/kubectl-upid"; do
    if [ -e "$f" ] || [ -L "$f" ]; then rm -f "$f"; removed=1; fi
  done
  if [ -d "$lib" ]; then rm -rf "$lib"; removed=1; fi
  [ "$removed" = 1 ] || die "upid is not installed in $prefix" 4
  echo "removed upid from $prefix (the store in \${UPID_HOME:-~/.upid} is kept)"
  exit 0
fi

[ -n "$from" ] || { usage >&2; die "--from is required" 2; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  else die "neither sha256sum nor shasum is installed: cannot verify the artifact" 3
  fi
}

fetch() {  # fetch URL FILE
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$2" "$1" || die "cannot download $1" 5
  elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1" || die "cannot download $1" 5
  else die "neither curl nor wget is installed: download $1 yourself and pass the file" 5
  fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/upid-install.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
name=$(basename "${from%%\?*}")
artifact="$work/$name"

case "$from" in
  http://*|https://*)
    fetch "$from" "$artifact"
    if [ -z "$sha" ]; then
      fetch "$from.sha256" "$work/$name.sha256" 2>/dev/null || die "no --sha256 given and $from.sha256 cannot be downloaded" 3
      sha=$(cut -d' ' -f1 "$work/$name.sha256")
    fi ;;
  *)
    [ -f "$from" ] || die "no such file: $from" 2
    cp "$from" "$artifact"
    if [ -z "$sha" ]; then
      [ -f "$from.sha256" ] || die "no --sha256 given and no $from.sha256 next to the artifact" 3
      sha=$(cut -d' ' -f1 "$from.sha256")
    fi ;;
esac

actual=$(sha256_of "$artifact")
[ "$actual" = "$sha" ] || die "SHA-256 mismatch for $name: expected $sha, got $actual; nothing installed" 3

mkdir -p "$bin" || die "cannot create $bin (try --prefix, or --system as root)" 4
case "$name" in
  *.tar.gz|*.tgz)
    mkdir -p "$work/unpacked"
    tar -xzf "$artifact" -C "$work/unpacked" || die "$name is not a readable tarball" 3
    [ -x "$work/unpacked/upid/upid" ] || die "$name has no upid/upid inside" 3
    mkdir -p "$prefix/lib" || die "cannot create $prefix/lib" 4
    rm -rf "$lib.new" && mv "$work/unpacked/upid" "$lib.new" || die "cannot write $prefix/lib" 4
    rm -rf "$lib" && mv "$lib.new" "$lib"
    ln -sf "$lib/upid" "$bin/upid.new" && mv -f "$bin/upid.new" "$bin/upid" ;;
  *)
    chmod 755 "$artifact"
    cp "$artifact" "$bin/upid.new" || die "cannot write $bin" 4
    mv -f "$bin/upid.new" "$bin/upid"
    rm -rf "$lib" ;;
esac
if [ "$plugin" = 1 ]; then ln -sf upid "$bin/kubectl-upid"; fi

version=$("$bin/upid" --version) || die "the installed $bin/upid does not run" 6
echo "installed $version to $bin/upid$( [ "$plugin" = 1 ] && echo " (and kubectl-upid: kubectl upid ...)")"
case ":$PATH:" in
  *":$bin:"*) ;;
  *) echo "note: $bin is not on your PATH; add it: export PATH=\"$bin:\$PATH\"" ;;
esac
