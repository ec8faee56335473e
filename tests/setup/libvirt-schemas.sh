#!/usr/bin/env bash
# Extracts libvirt's RelaxNG schemas (nodedev.rng and what it includes) from Debian's
# libvirt0 package into the cache, without installing libvirt, and prints the
# directory. Idempotent: a second run only prints it.
set -euo pipefail
cache="${NODEDEV_CACHE:-$HOME/.cache/nodedev-shim}"
out="$cache/libvirt-schemas"
if [ -f "$out/nodedev.rng" ] && [ -f "$out/basictypes.rng" ]; then
  echo "$out"
  exit 0
fi
work="$cache/debs/libvirt"
mkdir -p "$work" "$out"
cd "$work"
if ! ls libvirt0_*.deb >/dev/null 2>&1; then
  apt-get download libvirt0 >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download libvirt0 >/dev/null; }
fi
deb=$(ls libvirt0_*.deb | head -n 1)
rm -rf x && dpkg-deb -x "$deb" x
src=x/usr/share/libvirt/schemas
[ -f "$src/nodedev.rng" ] || { echo "libvirt-schemas.sh: $deb has no nodedev.rng" >&2; exit 1; }
# nodedev.rng and, transitively, the files it includes.
todo=(nodedev.rng)
while [ ${#todo[@]} -gt 0 ]; do
  f=${todo[0]}; todo=("${todo[@]:1}")
  [ -f "$out/$f" ] && [ "$f" != nodedev.rng ] && continue
  cp "$src/$f" "$out/$f"
  for inc in $(grep -o 'include href="[^"]*"' "$src/$f" | sed 's/.*href="\([^"]*\)"/\1/'); do
    [ -f "$out/$inc" ] || todo+=("$inc")
  done
done
echo "$deb" > "$out/SOURCE"
rm -rf x
echo "$out"
