#!/usr/bin/env bash
# Captures the sysfs fixtures the golden tests read: boots the rich topology
# (with the IOMMU, and without), runs `nodedev snapshot` in the guest, and copies
# the tars (and a facts file for checking by hand) into tests/fixtures/.
#
#   capture-fixtures.sh [--dest DIR]    (default DIR: tests/fixtures)
#
# --dest lets you capture elsewhere and diff against the committed fixtures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/../fixtures"
if [ "${1:-}" = --dest ]; then dest=$2; shift 2; fi
[ $# -eq 0 ] || { echo "usage: capture-fixtures.sh [--dest DIR]" >&2; exit 2; }
mkdir -p "$dest"
bin=$("$here/build-static.sh")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for variant in rich noiommu; do
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
