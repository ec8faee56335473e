#!/usr/bin/env bash
# Captures the sysfs fixtures the golden tests read: boots the rich topology
# (with the IOMMU, and without), runs `nodedev snapshot` in the guest, and copies
# the tars (and a facts file for checking by hand) into tests/fixtures/. The
# third boot (`classes`) has every device class (RIG_CLASSES=1) and udevd and
# libvirtd 9.0 running (guest/capture-classes.sh): two snapshots, with the udev
# database and without, each with what libvirt printed for the same tree.
#
#   capture-fixtures.sh [--dest DIR] [VARIANT…]   (default DIR: tests/fixtures;
#                                                  variants: rich noiommu classes)
#
# --dest lets you capture elsewhere and diff against the committed fixtures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/../fixtures"
if [ "${1:-}" = --dest ]; then dest=$2; shift 2; fi
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(rich noiommu classes)
for v in "${variants[@]}"; do
  case "$v" in rich|noiommu|classes) ;; *) echo "usage: capture-fixtures.sh [--dest DIR] [rich|noiommu|classes…]" >&2; exit 2;; esac
done
mkdir -p "$dest"
bin=$("$here/build-static.sh")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for variant in "${variants[@]}"; do
  if [ "$variant" = classes ]; then
    name=qemu-q35-classes
    echo "$name" > "$tmp/name"
    out="$tmp/out-classes"
    lvroot=$("$here/libvirt-root.sh")
    RIG_CLASSES=1 RIG_LVROOT=$lvroot "$here/run-guest.sh" --timeout 600 --out "$out" \
      "$here/guest/capture-classes.sh" "$bin" "$tmp/name" "$here/guest/oracle.sh" >/dev/null
    for s in udev noudev; do
      grep -q "^PASS snapshot $name-$s" "$out/results.txt"
      cp "$out/$name-$s.tar" "$out/$name-$s".libvirt-*.* "$dest/"
      echo "captured $dest/$name-$s.tar ($(stat -c %s "$dest/$name-$s.tar") bytes)"
    done
    continue
  fi
  name="qemu-q35-$variant"
  echo "$name" > "$tmp/name"
  flags=()
  [ "$variant" = noiommu ] && flags=(--no-iommu)
  out="$tmp/out-$variant"
  "$here/run-guest.sh" "${flags[@]}" --timeout 300 --out "$out" "$here/guest/capture.sh" "$bin" "$tmp/name" >/dev/null
  grep -q "^PASS snapshot" "$out/results.txt"
  cp "$out/$name.tar" "$out/$name.guest-facts.txt" "$dest/"
  echo "captured $dest/$name.tar ($(stat -c %s "$dest/$name.tar") bytes)"
done
