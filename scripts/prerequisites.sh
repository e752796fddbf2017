#!/usr/bin/env bash
# Makes sure the system has what a role (demo, test, bench) needs, from the one list in
# scripts/prerequisites.txt: every executable (or file) a role needs is looked for; as
# root, the packages that provide the missing ones are installed with apt-get and every
# one is looked for again. What is still missing ends the script with one ERROR line that
# names the packages, and exit status 1. Quiet when nothing is missing.
#   scripts/prerequisites.sh ROLE...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
list="$here/prerequisites.txt"
[ $# -ge 1 ] || { echo "usage: $0 ROLE... (demo, test, bench)" >&2; exit 2; }

# sbin tools (mke2fs, sfdisk, depmod) are looked for where root finds them, whoever runs this.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

wanted=() # "package provides" pairs of the roles asked for
while read -r pkg provides roles; do
  case "$pkg" in ''|'#'*) continue ;; esac
  for role in "$@"; do
    case " $roles " in *" $role "*) wanted+=("$pkg $provides"); break ;; esac
  done
done <"$list"
[ ${#wanted[@]} -gt 0 ] || { echo "ERROR no prerequisites are listed for role(s) $*; the roles are demo, test and bench" >&2; exit 2; }

present() { # provides -> 0 when the executable or file is there
  case "$1" in /*) [ -e "$1" ] ;; *) command -v "$1" >/dev/null 2>&1 ;; esac
}

missing_pairs() { # prints "package provides" for each missing one
  local row
  for row in "${wanted[@]}"; do present "${row#* }" || echo "$row"; done
}

# "xmllint (libxml2-utils), virsh (libvirt-clients)" and the unique package names.
describe() { awk '{ printf "%s%s (%s)", (NR > 1 ? ", " : ""), $2, $1 }'; }
packages_of() { awk '{ print $1 }' | sort -u | tr '\n' ' ' | sed 's/ $//'; }

missing=$(missing_pairs)
[ -n "$missing" ] || exit 0
pkgs=$(packages_of <<<"$missing")

if [ "$(id -u)" -ne 0 ]; then
  echo "ERROR missing from this system: $(describe <<<"$missing"); install them as root: apt-get install $pkgs" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ERROR missing from this system: $(describe <<<"$missing"); this is not a Debian-like system with apt-get: install the Debian packages $pkgs or their equivalents" >&2
  exit 1
fi

echo "prerequisites: installing $pkgs" >&2
export DEBIAN_FRONTEND=noninteractive
# A partial failure of the update (one index mid-sync) still leaves usable lists.
apt-get update -qq >/dev/null 2>&1 || echo "prerequisites: apt-get update reported errors; continuing with the lists it has" >&2
# shellcheck disable=SC2086 # one word per package
if ! out=$(apt-get install -y -qq --no-install-recommends $pkgs 2>&1); then
  echo "ERROR apt-get install $pkgs failed: $(grep -E '^E:' <<<"$out" | head -n1 | sed 's/^E: //')" >&2
  exit 1
fi

still=$(missing_pairs)
if [ -n "$still" ]; then
  echo "ERROR installed $(packages_of <<<"$still"), but still missing: $(describe <<<"$still")" >&2
  exit 1
fi
