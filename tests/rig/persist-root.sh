#!/usr/bin/env bash
# The persistence lane's guest root: a small Debian bookworm system (systemd as
# PID 1, systemd-udevd, kmod, dpkg, initramfs-tools with busybox, iproute2),
# extracted with dpkg-deb -x by tests/setup/debian-root.sh with a dpkg database
# saying it is installed (no maintainer script runs, nothing is installed on
# this machine, no daemon starts), plus:
#   - the rig kernel's modules (hard links), indexed with the root's depmod;
#   - users (root, rigqemu, group kvm), a machine id, units the guest has no use
#     for masked (logind: no D-Bus; firstboot: it would prompt on the console);
#   - initramfs-tools set for this rig: MODULES=list with the 9p transport and
#     e1000e (a host driver loaded in the initramfs, as Debian's MODULES=most
#     does for NICs), a boot script `rig9p` (boot=rig9p root=TAG) that mounts
#     the root over 9p; and the initramfs itself, built by the root's own
#     update-initramfs in a chroot (private mount namespace, its own /proc;
#     /sys is not mounted, so nothing in it can touch this machine's devices);
#   - rig-test.service: after multi-user.target, runs the lane's script from the
#     9p share host0 (as run-guest.sh's busybox init does), prints the end
#     marker and powers off through isa-debug-exit.
# The guest boots it writable over 9p (persist-lane.sh copies it first, so every
# lane run starts from this state). Rebuilt when this script, the base root or
# the kernel changes. Prints the root's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/setup.sh")"
PACKAGES="systemd udev kmod dpkg initramfs-tools busybox iproute2 base-files base-passwd bash coreutils dash diffutils findutils grep gzip sed tar util-linux mount debianutils init-system-helpers libc-bin procps zstd"
base=$("$here/../setup/debian-root.sh" persist-base "$PACKAGES" --dpkg-db)
stamp="$KVER $(cat "$0" "$here/add-kernel-modules.sh" | sha256sum | cut -c1-16) $(cat "$base/.debian-root-stamp" | sha256sum | cut -c1-16)"
# One directory per version (see tests/setup/debian-root.sh): never replaced under a
# guest of another checkout that reads it.
root="$CACHE/persist-root-$(printf %s "$stamp" | sha256sum | cut -c1-12)"
if [ -f "$root/.stamp" ] && [ "$(cat "$root/.stamp")" = "$stamp" ]; then
  echo "$root"; exit 0
fi
log() { echo "rig/persist-root: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "needs root (chroot, file ownership)"; exit 1; }
tmp="$root.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
cp -a "$base" "$tmp"
rm -f "$tmp/.debian-root-stamp"
mkdir -p "$tmp"/{proc,sys,dev,run,tmp,root,mnt/host,boot,var/lib/initramfs-tools}
chmod 1777 "$tmp/tmp"

# What base-passwd's, systemd's and adduser's maintainer scripts would have made.
cat > "$tmp/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
rigqemu:x:1200:104:unprivileged QEMU for the lane:/nonexistent:/usr/sbin/nologin
P
cat > "$tmp/etc/group" <<'G'
root:x:0:
tty:x:5:
disk:x:6:
kmem:x:15:
dialout:x:20:
audio:x:29:
video:x:44:
utmp:x:43:
input:x:105:
render:x:106:
sgx:x:107:
kvm:x:104:rigqemu
systemd-journal:x:101:
nogroup:x:65534:
G
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\nrigqemu:*:19000:0:99999:7:::\n' > "$tmp/etc/shadow"
chmod 0640 "$tmp/etc/shadow"
echo rig > "$tmp/etc/hostname"
echo 5d0e8c4f3b2a41d6a9e7c1b0f2d3e4a5 > "$tmp/etc/machine-id"
: > "$tmp/etc/fstab"
ln -sfn debian "$tmp/etc/dpkg/origins/default"
# The alternatives the maintainer scripts would have registered (update-initramfs
# needs awk).
chroot "$tmp" /usr/bin/update-alternatives --quiet --install /usr/bin/awk awk /usr/bin/mawk 5
chroot "$tmp" /usr/bin/update-alternatives --quiet --install /usr/bin/which which /usr/bin/which.debianutils 0

# systemd: boot to multi-user.target, then the lane's script.
sd="$tmp/etc/systemd/system"
mkdir -p "$sd/multi-user.target.wants"
ln -sfn /lib/systemd/system/multi-user.target "$sd/default.target"
for u in systemd-logind.service systemd-firstboot.service getty.target \
         systemd-ask-password-wall.path systemd-ask-password-console.path; do
  ln -sfn /dev/null "$sd/$u"
done
cat > "$sd/rig-test.service" <<'U'
[Unit]
Description=nodedev-shim test rig: the lane's script, then power off
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/rig-test
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
U
ln -sfn ../rig-test.service "$sd/multi-user.target.wants/rig-test.service"
mkdir -p "$tmp/usr/local/sbin"
cat > "$tmp/usr/local/sbin/rig-test" <<'T'
#!/bin/sh
# Runs the lane's script from the 9p share host0 (run-guest.sh's contract: the
# script is run.sh, results go to out/, the end marker on the console), then
# powers off through isa-debug-exit.
mkdir -p /mnt/host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 host0 /mnt/host
echo "===TEST-BEGIN==="
cd /mnt/host && sh ./run.sh
rc=$?
echo "===TEST-END rc=$rc==="
[ -d /mnt/host/out ] && echo "$rc" > /mnt/host/out/rc
sync
printf "\\$(printf %03o "$rc")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
systemctl poweroff -ff
T
chmod 755 "$tmp/usr/local/sbin/rig-test"

# initramfs-tools for this rig.
it="$tmp/etc/initramfs-tools"
sed -i 's/^MODULES=.*/MODULES=list/' "$it/initramfs.conf"
printf 'virtio_pci\n9pnet_virtio\n9p\ne1000e\n' > "$it/modules"
mkdir -p "$it/conf.d" "$it/scripts"
echo RESUME=none > "$it/conf.d/resume"
cat > "$it/scripts/rig9p" <<'S'
# The test rig's root file system over 9p: boot=rig9p root=TAG (a QEMU
# -virtfs mount tag), mounted read-write.
mountroot()
{
	modprobe 9pnet_virtio
	modprobe 9p
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,rw "${ROOT}" "${rootmnt?}"
}
S

# The rig kernel's modules, indexed by the root's own depmod.
"$here/add-kernel-modules.sh" "$tmp"
cp "$CACHE/kroot/boot/config-$KVER" "$tmp/boot/"

# The first initramfs, by the root's own initramfs-tools; then the triggers
# dpkg activates when it first reads the file-trigger interests written above
# (ldconfig, hwdb, shells, systemd's catalog; its binfmt step only acts with a
# running systemd), so the guest's dpkg starts with nothing pending.
unshare -m --propagation private sh -c '
  mount -t proc proc "$1/proc" && mount -t tmpfs tmpfs "$1/tmp" &&
  mount --bind /dev "$1/dev" &&
  PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$1" update-initramfs -c -k "$2" &&
  PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$1" dpkg --triggers-only -a' sh "$tmp" "$KVER" >&2
[ -s "$tmp/boot/initrd.img-$KVER" ] || { log "update-initramfs made no initramfs"; exit 1; }
echo "$stamp" > "$tmp/.stamp"
# Another run may have built this very version meanwhile: keep the first.
mv -T "$tmp" "$root" 2>/dev/null || rm -rf "$tmp"
trap - EXIT
log "built $root ($(du -sh --exclude=lib/modules "$root" | cut -f1) without the modules; initramfs $(du -h "$root/boot/initrd.img-$KVER" | cut -f1))"
echo "$root"
