#!/usr/bin/env bash
# Installs what the real-kernel rig needs, idempotently, into a cache it owns:
#   - QEMU 10 from bookworm-backports (system-wide; the stock 7.2 package would
#     remove the machine's qemu-utils 10 and lacks igb), via a private apt config
#     so /etc/apt is left alone;
#   - the Debian kernel image, downloaded and extracted (never installed: that
#     would pull initramfs-tools and upgrade systemd), with busybox's depmod;
#   - busybox-static, extracted.
# Prints "KVER=<release>" and "CACHE=<dir>" on success. Fails loudly otherwise.
set -euo pipefail
CACHE="${NODEDEV_CACHE:-$HOME/.cache/nodedev-shim}/rig"
mkdir -p "$CACHE"
cd "$CACHE"

log() { echo "rig/setup: $*" >&2; }

# --- QEMU ---------------------------------------------------------------------
qemu_ok() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 &&
    qemu-system-x86_64 --version | head -n 1 | grep -Eq 'version (1[0-9]|[2-9][0-9])\.'
}
if ! qemu_ok; then
  [ "$(id -u)" -eq 0 ] || { log "QEMU >= 10 is missing and installing it needs root"; exit 1; }
  mkdir -p apt/lists/partial apt/cache/archives/partial apt/sources.d
  src=/etc/apt/sources.list.d/debian.sources
  [ -f "$src" ] || { log "no $src to derive the backports source from"; exit 1; }
  cp "$src" apt/sources.d/main.sources
  # The first stanza is the main archive; point a copy of it at bookworm-backports.
  awk 'BEGIN{RS="";ORS="\n\n"} NR==1' "$src" | sed 's/^Suites:.*/Suites: bookworm-backports/' > apt/sources.d/bpo.sources
  APT=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$CACHE/apt/sources.d"
       -o "Dir::State::Lists=$CACHE/apt/lists" -o "Dir::Cache=$CACHE/apt/cache"
       -o "Dir::Cache::Archives=$CACHE/apt/cache/archives")
  log "installing qemu-system-x86 from bookworm-backports"
  apt-get "${APT[@]}" update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get "${APT[@]}" install -y --no-install-recommends \
    -t bookworm-backports qemu-system-x86 >/dev/null
  qemu_ok || { log "QEMU 10 did not install"; exit 1; }
fi

# --- kernel and busybox -------------------------------------------------------
mkdir -p debs
if [ ! -f kver ] || [ ! -d "kroot/lib/modules/$(cat kver)" ] || [ ! -x bbroot/bin/busybox ]; then
  command -v apt-get >/dev/null || { log "apt-get is needed to fetch the kernel"; exit 1; }
  kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  if [ -z "$kpkg" ]; then
    apt-get update >/dev/null
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  fi
  [ -n "$kpkg" ] || { log "cannot resolve linux-image-amd64"; exit 1; }
  log "fetching $kpkg and busybox-static"
  # Older ABIs leave the mirror: on failure refresh the lists, resolve again, retry once.
  if ! (cd debs && apt-get download "$kpkg" busybox-static >/dev/null 2>&1); then
    log "download failed; running apt-get update and retrying"
    apt-get update >/dev/null || { log "apt-get update failed"; exit 1; }
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    [ -n "$kpkg" ] || { log "cannot resolve linux-image-amd64"; exit 1; }
    (cd debs && apt-get download "$kpkg" busybox-static >/dev/null) ||
      { log "apt-get download $kpkg busybox-static failed"; exit 1; }
  fi
  rm -rf kroot bbroot
  mkdir kroot bbroot
  dpkg-deb -x debs/"$kpkg"_*.deb kroot
  dpkg-deb -x debs/busybox-static_*.deb bbroot
  kver=$(ls kroot/lib/modules | head -n 1)
  bbroot/bin/busybox depmod -b "$CACHE/kroot" "$kver"
  echo "$kver" > kver
fi
KVER=$(cat kver)
[ -f "kroot/boot/vmlinuz-$KVER" ] || { log "kernel image missing"; exit 1; }
echo "KVER=$KVER"
echo "CACHE=$CACHE"
