#!/usr/bin/env bash
# Runs Debian's lintian on a .deb, from a root extracted into the cache
# (tests/setup/debian-root.sh: lintian and its ~200 dependencies, nothing
# installed on this machine; lintian starts no daemon). It runs chrooted in a
# private mount namespace with its own /proc, /tmp and a bound /dev; the .deb
# is copied in. Prints lintian's tags (`--info` explains each) and exits as
# lintian does (non-zero on an error or warning at the failing levels).
#
#   lintian.sh PACKAGE.deb [LINTIAN OPTIONS…]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: lintian.sh PACKAGE.deb [OPTIONS…]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" != --inside ]; then
  # lintian calls tools of the Essential set, which no dependency names.
  root=$("$here/debian-root.sh" lintian-root "lintian base-files libc-bin coreutils dash bash diffutils findutils grep gzip sed tar util-linux")
  deb=$(readlink -f "$1"); shift
  exec unshare -m --propagation private "$0" --inside "$root" "$deb" "$@"
fi
root=$2 deb=$3; shift 3
mkdir -p "$root/tmp" "$root/proc" "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
cp "$deb" "$root/tmp/"
# As nobody: lintian advises against running as root.
chmod 0644 "$root/tmp/$(basename "$deb")"
# base-files' postinst would have made /etc/dpkg/origins/default.
DEB_VENDOR=Debian HOME=/tmp LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot --userspec=65534:65534 "$root" lintian "$@" "/tmp/$(basename "$deb")"
