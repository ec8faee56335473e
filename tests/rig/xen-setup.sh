#!/usr/bin/env bash
# The Xen lane's parts, idempotently, in the rig cache (nothing is installed on the
# host, no maintainer script runs):
#   - Debian's Xen hypervisor (xen-hypervisor-4.17-amd64), downloaded and extracted;
#     its image gunzipped, because QEMU's multiboot loader only reads an ELF32 image
#     with a multiboot1 header (the .gz makes QEMU fall back to the Linux loader and
#     fail with "linux kernel too old to load a ram disk");
#   - a root the dom0 runs the Xen tools from ($CACHE/xenroot, shared read-only over
#     9p): xen-utils-4.17 (xl, xenstored, xen-init-dom0), xenstore-utils, and the
#     libraries they need, resolved by apt with an empty dpkg status (libc6
#     included) and extracted with dpkg-deb -x; plus the rig kernel's xenfs,
#     xen-privcmd, xen-evtchn, xen-gntdev and xen-gntalloc modules, which the
#     initramfs does not ship (xenstored needs them, nothing else does).
# Rebuilt only when this script, the Xen version or the kernel changed.
# Prints KVER=, CACHE= (from setup.sh), XEN= (the hypervisor image), XENVER= and
# XENROOT=.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/setup.sh")"
XENVER=4.17
xen="$CACHE/xen"
root="$CACHE/xenroot"
debs="$CACHE/xen-debs"
log() { echo "rig/xen-setup: $*" >&2; }
# xen-utils-4.17's Depends, less python3 (pygrub only) and xen-utils-common (init
# scripts; it pulls udev), plus what xl/xenstored link against.
LIBS="libxenmisc$XENVER libxenstore4 libxentoollog1 libxencall1 libxenevtchn1 libxenforeignmemory1
      libxengnttab1 libxenhypfs1 libxendevicemodel1 libxentoolcore1 libyajl2 libncurses6 libtinfo6"
TOOLS="xen-utils-$XENVER xenstore-utils"
HYPERVISOR="xen-hypervisor-$XENVER-amd64"
MODULES="xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc"
stamp="$KVER $XENVER $(sha256sum "$0" | cut -c1-16)"
if [ -f "$root/.stamp" ] && [ "$(cat "$root/.stamp")" = "$stamp" ] && [ -f "$xen/xen.elf" ]; then
  echo "KVER=$KVER"; echo "CACHE=$CACHE"; echo "XEN=$xen/xen.elf"; echo "XENVER=$XENVER"; echo "XENROOT=$root"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { log "needs root (file ownership in the extracted root)"; exit 1; }

mkdir -p "$debs/partial"
: > "$CACHE/xen-status"
APT=(-o "Dir::State::status=$CACHE/xen-status" -o "Dir::Cache::Archives=$debs"
     -o Debug::NoLocking=1 -o APT::Install-Recommends=false -o APT::Install-Suggests=false)
# shellcheck disable=SC2086
fetch() {
  DEBIAN_FRONTEND=noninteractive apt-get "${APT[@]}" install --download-only -y -q $LIBS >"$CACHE/xen-apt.log" 2>&1 &&
    (cd "$debs" && apt-get download $TOOLS $HYPERVISOR >>"$CACHE/xen-apt.log" 2>&1)
}
if ! fetch; then
  log "download failed; running apt-get update and retrying"
  apt-get update >/dev/null || { log "apt-get update failed"; exit 1; }
  fetch || { log "apt-get download failed: $(tail -n 5 "$CACHE/xen-apt.log")"; exit 1; }
fi
# Only the versions this resolution chose (an older download may sit beside them).
# shellcheck disable=SC2086
mapfile -t chosen < <(apt-get "${APT[@]}" install -s -y -q $LIBS 2>/dev/null |
  awk '/^Inst /{v=$3; sub(/^\(/,"",v); gsub(/:/,"%3a",v); print $2 "_" v}')
[ "${#chosen[@]}" -gt 0 ] || { log "cannot list the resolved packages"; exit 1; }
for p in $TOOLS $HYPERVISOR; do
  v=$(apt-cache policy "$p" | awk '/Candidate:/{print $2}' | sed 's/:/%3a/g')
  chosen+=("${p}_$v")
done

tmp="$root.tmp.$$"
rm -rf "$tmp" "$xen.tmp"; mkdir -p "$tmp" "$xen.tmp"
trap 'rm -rf "$tmp" "$xen.tmp"' EXIT
for f in "${chosen[@]}"; do
  deb=$(ls "$debs/$f"_*.deb 2>/dev/null | head -n 1)
  [ -n "$deb" ] || { log "missing $debs/${f}_*.deb"; exit 1; }
  case "$f" in
    "$HYPERVISOR"_*) dpkg-deb -x "$deb" "$xen.tmp/pkg";;
    *) dpkg-deb -x "$deb" "$tmp";;
  esac
done
gz="$xen.tmp/pkg/boot/xen-$XENVER-amd64.gz"
[ -f "$gz" ] || { log "$HYPERVISOR has no boot/xen-$XENVER-amd64.gz"; exit 1; }
zcat "$gz" > "$xen.tmp/xen.elf"
cp "$xen.tmp/pkg/boot/xen-$XENVER-amd64.config" "$xen.tmp/xen.config"
rm -rf "$xen.tmp/pkg"
# What the tools find where the packages' postinst and init script would put it.
mkdir -p "$tmp"/{proc,sys,dev,run,tmp,var/lib/xen,var/log/xen,etc/xen}
ln -sfn /run "$tmp/var/run"
# The dom0's Xen modules: same kernel, so the guest insmods them from here.
mods="$CACHE/kroot/lib/modules/$KVER"
mkdir -p "$tmp/modules"
for m in $MODULES; do
  path=$(awk -F: -v m="$m" '{n=$1; sub(".*/","",n); sub("\\.ko.*$","",n); if (n==m) {print $1; exit}}' "$mods/modules.dep")
  [ -n "$path" ] || { log "module $m not in $mods/modules.dep"; exit 1; }
  cp "$mods/$path" "$tmp/modules/"
done
for b in xl xenstored xen-init-dom0; do
  [ -x "$tmp/usr/lib/xen-$XENVER/bin/$b" ] || { log "xen-utils-$XENVER has no $b"; exit 1; }
done
echo "$stamp" > "$tmp/.stamp"
rm -rf "$root" "$xen"
mv "$xen.tmp" "$xen"
mv "$tmp" "$root"
trap - EXIT
log "Xen $XENVER: $xen/xen.elf; tools root $root ($(du -sh "$root" | cut -f1))"
echo "KVER=$KVER"; echo "CACHE=$CACHE"; echo "XEN=$xen/xen.elf"; echo "XENVER=$XENVER"; echo "XENROOT=$root"
