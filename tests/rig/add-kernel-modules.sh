#!/usr/bin/env bash
# Puts the rig kernel's modules into a guest root (hard links: same cache file
# system, read only in use) and indexes them with the root's own depmod, so the
# guest's udevd and modprobe load drivers as on a real host.
#
#   add-kernel-modules.sh ROOT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/setup.sh")"
root=${1:?usage: add-kernel-modules.sh ROOT}
mkdir -p "$root/lib/modules"
rm -rf "${root:?}/lib/modules/$KVER"
cp -al "$CACHE/kroot/lib/modules/$KVER" "$root/lib/modules/$KVER"
rm -f "$root/lib/modules/$KVER"/modules.*
for f in modules.builtin modules.builtin.modinfo modules.order; do
  [ -f "$CACHE/kroot/lib/modules/$KVER/$f" ] && cp "$CACHE/kroot/lib/modules/$KVER/$f" "$root/lib/modules/$KVER/"
done
chroot "$root" /sbin/depmod "$KVER"
