#!/usr/bin/env bash
# Builds the oracle's root: Debian bookworm's own libvirtd 9.0 (node-device and QEMU
# drivers), virsh, systemd-udevd/udevadm and kmod, with every library they need,
# extracted with dpkg-deb -x by tests/setup/debian-root.sh (no maintainer script
# runs, nothing is installed on the host, no daemon starts), then completed into
# ${NODEDEV_CACHE:-~/.cache/nodedev-shim}/rig/lvroot.
# The guest mounts it over 9p as an overlayfs lower layer and chroots into it
# (guest/oracle.sh); the host runs a private libvirtd from it (host-oracle.sh).
# It also holds the rig kernel's modules (hard links, indexed with kmod's depmod), so
# the guest's udevd can load drivers by modalias as on a real host.
# Rebuilt only when this script, the package list or the kernel changed. Prints the
# root's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/setup.sh")"
# pci.ids: libvirt 9.0 names PCI vendors and products through libpciaccess, which
# reads /usr/share/misc/pci.ids (a Recommends, so not in the closure by itself).
PACKAGES="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients udev kmod dash pci.ids"
# The packages and their closure, extracted (tests/setup/debian-root.sh).
base=$("$here/../setup/debian-root.sh" lvroot-base "$PACKAGES")
stamp="$KVER $(cat "$0" "$here/add-kernel-modules.sh" | sha256sum | cut -c1-16) $(sha256sum < "$base/.debian-root-stamp" | cut -c1-16)"
# One directory per version (see tests/setup/debian-root.sh): never replaced under a
# guest of another checkout that reads it.
root="$CACHE/lvroot-$(printf %s "$stamp" | sha256sum | cut -c1-12)"
if [ -f "$root/.stamp" ] && [ "$(cat "$root/.stamp")" = "$stamp" ]; then
  echo "$root"; exit 0
fi
log() { echo "rig/libvirt-root: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "needs root (chroot, file ownership)"; exit 1; }
tmp="$root.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
cp -a "$base" "$tmp"
rm -f "$tmp/.debian-root-stamp"

# What the maintainer scripts would have done, limited to what the oracle needs.
mkdir -p "$tmp"/{proc,sys,dev,run,tmp,root,mnt,var/lib/libvirt,var/cache/libvirt,var/log/libvirt}
ln -sfn /run "$tmp/var/run"
# The users and groups Debian's postinsts create (QEMU runs as libvirt-qemu:kvm).
printf 'root:x:0:0:root:/root:/bin/sh\nlibvirt-qemu:x:64055:104::/var/lib/libvirt:/usr/sbin/nologin\n' > "$tmp/etc/passwd"
printf 'root:x:0:\nkvm:x:104:libvirt-qemu\nlibvirt:x:105:\nlibvirt-qemu:x:64055:\n' > "$tmp/etc/group"
# Which drivers a daemon loads: LIBVIRT_DRIVER_DIR points at one of these.
# guest: node devices and QEMU (nodedev-detach/-reattach/-reset go through the
# hypervisor driver); host: node devices only.
drv=/usr/lib/x86_64-linux-gnu/libvirt/connection-driver
mkdir -p "$tmp/oracle/drivers-guest" "$tmp/oracle/drivers-host"
ln -s "$drv/libvirt_driver_nodedev.so" "$tmp/oracle/drivers-guest/"
ln -s "$drv/libvirt_driver_qemu.so" "$tmp/oracle/drivers-guest/"
ln -s "$drv/libvirt_driver_nodedev.so" "$tmp/oracle/drivers-host/"
# Unix socket only (libvirtd listens on TCP only with --listen, which is never given),
# no polkit, a log for when something fails.
cat > "$tmp/etc/libvirt/libvirtd.conf" <<'EOF'
listen_tls = 0
listen_tcp = 0
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/run/libvirtd.log"
EOF
# udev's hardware database (ID_*_FROM_DATABASE), as udev's postinst would build it.
chroot "$tmp" /bin/systemd-hwdb update
# The rig kernel's modules, hard-linked (same cache filesystem), indexed by kmod.
"$here/add-kernel-modules.sh" "$tmp"
echo "$stamp" > "$tmp/.stamp"
# Another run may have built this very version meanwhile: keep the first.
mv -T "$tmp" "$root" 2>/dev/null || rm -rf "$tmp"
trap - EXIT
log "built $root ($(du -sh --exclude=lib/modules "$root" | cut -f1) without the modules)"
echo "$root"
