#!/usr/bin/env bash
# Builds the guest's initramfs (busybox, /init, the modules the tests need and
# their dependencies) into the rig cache; rebuilt only when an input changed.
# Prints the path of the initramfs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/setup.sh")"
out="$CACHE/initrd.cpio.gz"
MODULES="vfio vfio_iommu_type1 vfio_pci_core vfio-pci pci-stub e1000e e1000 igb igbvf nvme virtio_pci virtio_net 9pnet_virtio 9p overlay"
# xen-pciback (libvirt's Xen stub) only when this kernel builds it as a module. It is
# shipped, not loaded: outside a Xen dom0 its init fails with ENODEV, which is itself
# worth a scenario.
if grep -qx 'CONFIG_XEN_PCIDEV_BACKEND=m' "$CACHE/kroot/boot/config-$KVER"; then
  MODULES="$MODULES xen-pciback"
fi
stamp="$KVER $(sha256sum "$here/guest/init" "$0" | sha256sum | cut -c1-16)"
if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$out"; exit 0
fi
tmp=""; root=$(mktemp -d); trap 'rm -rf "$root" "$tmp" "$tmp.stamp"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt/host,lib/modules/"$KVER"}
cp "$CACHE/bbroot/bin/busybox" "$root/bin/busybox"
cp "$here/guest/init" "$root/init"; chmod +x "$root/init"
mods="$CACHE/kroot/lib/modules/$KVER"
dep="$mods/modules.dep"
# The closure of each module through modules.dep.
want=()
for m in $MODULES; do
  path=$(awk -F: -v m="$m" '{n=$1; sub(".*/","",n); sub("\\.ko.*$","",n); gsub("-","_",n); mm=m; gsub("-","_",mm); if (n==mm) {print $0; exit}}' "$dep")
  [ -n "$path" ] || { echo "build-initrd: module $m not in $dep" >&2; exit 1; }
  want+=("${path%%:*}")
  for d in ${path#*:}; do want+=("$d"); done
done
for f in $(printf '%s\n' "${want[@]}" | sort -u); do
  mkdir -p "$root/lib/modules/$KVER/$(dirname "$f")"
  cp "$mods/$f" "$root/lib/modules/$KVER/$f"
done
cp "$mods"/modules.builtin* "$mods"/modules.order "$root/lib/modules/$KVER/" 2>/dev/null || true
# libvirt's VFIO variant lookup reads modules.alias: keep the real one.
cp "$mods/modules.alias" "$root/lib/modules/$KVER/"
"$CACHE/bbroot/bin/busybox" depmod -b "$root" "$KVER"
cp "$mods/modules.alias" "$root/lib/modules/$KVER/modules.alias"
# Several rigs may build at once (the lane, a benchmark, a capture): write under a
# unique name and rename, so each reader sees a whole file.
tmp=$(mktemp "$out.XXXXXX")
(cd "$root" && find . | "$CACHE/bbroot/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$out"
echo "$stamp" > "$tmp.stamp"
mv -f "$tmp.stamp" "$out.stamp"
echo "$out"
