#!/usr/bin/env bash
# Builds the oracle's root: Debian bookworm's own libvirtd 9.0 (node-device and QEMU
# drivers), virsh, systemd-udevd/udevadm and kmod, with every library they need,
# extracted with dpkg-deb -x (no maintainer script runs, nothing is installed on the
# host, no daemon starts) into ${NODEDEV_CACHE:-~/.cache/nodedev-shim}/rig/lvroot.
# The guest mounts it over 9p as an overlayfs lower layer and chroots into it
# (guest/oracle.sh); the host runs a private libvirtd from it (host-oracle.sh).
# It also holds the rig kernel's modules (hard links, indexed with kmod's depmod), so
# the guest's udevd can load drivers by modalias as on a real host.
# Rebuilt only when this script or the kernel changed. Prints the root's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/setup.sh")"
root="$CACHE/lvroot"
debs="$CACHE/lvroot-debs"
# pci.ids: libvirt 9.0 names PCI vendors and products through libpciaccess, which
# reads /usr/share/misc/pci.ids (a Recommends, so not in the closure by itself).
PACKAGES="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients udev kmod dash pci.ids"
stamp="$KVER $(sha256sum "$0" | cut -c1-16)"
if [ -f "$root/.stamp" ] && [ "$(cat "$root/.stamp")" = "$stamp" ]; then
  echo "$root"; exit 0
fi
log() { echo "rig/libvirt-root: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "needs root (chroot, file ownership)"; exit 1; }

# Resolve and download the closure with the system's package lists but an empty
# dpkg status, so every dependency (libc6 included) is fetched, and nothing is
# installed: --download-only into a directory of our own.
mkdir -p "$debs/partial"
: > "$CACHE/lvroot-status"
APT=(-o "Dir::State::status=$CACHE/lvroot-status" -o "Dir::Cache::Archives=$debs"
     -o Debug::NoLocking=1 -o APT::Install-Recommends=false -o APT::Install-Suggests=false)
fetch() { DEBIAN_FRONTEND=noninteractive apt-get "${APT[@]}" install --download-only -y -q $PACKAGES >"$CACHE/lvroot-apt.log" 2>&1; }
if ! fetch; then
  log "download failed; running apt-get update and retrying"
  apt-get update >/dev/null || { log "apt-get update failed"; exit 1; }
  fetch || { log "apt-get download failed: $(tail -n 5 "$CACHE/lvroot-apt.log")"; exit 1; }
fi
# Only the versions this resolution chose (an older download may sit beside them).
mapfile -t chosen < <(apt-get "${APT[@]}" install -s -y -q $PACKAGES 2>/dev/null |
  awk '/^Inst /{v=$3; sub(/^\(/,"",v); gsub(/:/,"%3a",v); print $2 "_" v}')
[ "${#chosen[@]}" -gt 0 ] || { log "cannot list the resolved packages"; exit 1; }

tmp="$root.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
for f in "${chosen[@]}"; do
  deb=$(ls "$debs/$f"_*.deb 2>/dev/null | head -n 1)
  [ -n "$deb" ] || { log "missing $debs/${f}_*.deb"; exit 1; }
  dpkg-deb -x "$deb" "$tmp"
done

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
mkdir -p "$tmp/lib/modules"
cp -al "$CACHE/kroot/lib/modules/$KVER" "$tmp/lib/modules/$KVER"
rm -f "$tmp/lib/modules/$KVER"/modules.*
for f in modules.builtin modules.builtin.modinfo modules.order; do
  [ -f "$CACHE/kroot/lib/modules/$KVER/$f" ] && cp "$CACHE/kroot/lib/modules/$KVER/$f" "$tmp/lib/modules/$KVER/"
done
chroot "$tmp" /sbin/depmod "$KVER"
echo "$stamp" > "$tmp/.stamp"
rm -rf "$root"
mv "$tmp" "$root"
trap - EXIT
log "built $root ($(du -sh --exclude=lib/modules "$root" | cut -f1) without the modules)"
echo "$root"
