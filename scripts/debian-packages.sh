#!/usr/bin/env bash
# Fetching Debian packages without installing them: resolve a kernel meta-package to its
# versioned package, download a .deb with apt-get (into a cache directory), extract it
# once with dpkg-deb. Sourced by the test fixtures script and the demo; run directly as
#   scripts/debian-packages.sh CACHE_DIR PKG[:ARCH]...
# it prints "PKG DIR" for each package, DIR being the extracted tree. A name of the form
# meta:linux-image-amd64 resolves the meta-package first.
set -euo pipefail

# The first real package a meta-package depends on (linux-image-X.Y.Z-N-flavour).
debian_resolve_meta() {
  apt-cache depends "$1" 2>/dev/null | awk '/^ *Depends: linux-image-[0-9]/ { sub(/^ *Depends: /, ""); print; exit }'
}

# debian_fetch_deb DEBS_DIR PKG[:ARCH] -> prints the .deb path (downloaded once).
debian_fetch_deb() {
  local debs=$1 pkg=$2 name=${2%%:*} arch
  arch=$(dpkg --print-architecture)
  [[ $pkg == *:* ]] && arch=${pkg##*:}
  local ver
  ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
  [ -n "$ver" ] && [ "$ver" != "(none)" ] || { echo "ERROR no candidate version for $pkg; run apt-get update" >&2; return 1; }
  local file="$debs/${name}_${ver//:/%3a}_${arch}.deb"
  if [ ! -s "$file" ]; then
    # -o APT::Sandbox::User=root: the cache directory belongs to whoever runs this.
    (cd "$debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg=$ver" >/dev/null)
  fi
  [ -s "$file" ] || { echo "ERROR apt-get download $pkg=$ver produced no $file" >&2; return 1; }
  echo "$file"
}

# debian_extract_deb ROOTS_DIR DEB -> prints the directory it was extracted into (once).
debian_extract_deb() {
  local dir="$1/$(basename "$2" .deb)"
  if [ ! -e "$dir/.done" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    dpkg-deb -x "$2" "$dir"
    touch "$dir/.done"
  fi
  echo "$dir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  [ $# -ge 2 ] || { echo "usage: $0 CACHE_DIR PKG[:ARCH]..." >&2; exit 2; }
  cache=$1; shift
  mkdir -p "$cache/debs" "$cache/root"
  for pkg in "$@"; do
    real=$pkg
    if [[ $pkg == meta:* ]]; then
      real=$(debian_resolve_meta "${pkg#meta:}")
      [ -n "$real" ] || { echo "ERROR cannot resolve ${pkg#meta:}; run apt-get update" >&2; exit 1; }
    fi
    deb=$(debian_fetch_deb "$cache/debs" "$real")
    dir=$(debian_extract_deb "$cache/root" "$deb")
    echo "$pkg $dir"
  done
fi
