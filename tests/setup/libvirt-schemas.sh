#!/usr/bin/env bash
# Makes what the XML tests need, without installing libvirt:
#   - xmllint (Debian's libxml2-utils), installed with apt-get if it is missing;
#   - libvirt's RelaxNG schemas: nodedev.rng and every .rng it includes,
#     transitively (basictypes.rng, ...), extracted with dpkg-deb from Debian's
#     libvirt0 package (bookworm: 9.0.0; /usr/share/libvirt/schemas/) into
#     ${NODEDEV_CACHE:-$HOME/.cache/nodedev-shim}/libvirt-schemas/.
# Prints that directory on its last line (tests/run exports it as
# NODEDEV_LIBVIRT_SCHEMAS). Idempotent: a second run only checks and prints.
set -euo pipefail

cache="${NODEDEV_CACHE:-$HOME/.cache/nodedev-shim}"
out="$cache/libvirt-schemas"

say() { echo "libvirt-schemas.sh: $*" >&2; }

# apt-get, with one 'apt-get update' first when the package lists are missing
# or stale (the command fails without them).
apt_run() {
  if ! DEBIAN_FRONTEND=noninteractive apt-get "$@" >/dev/null 2>&1; then
    apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get "$@" >/dev/null
  fi
}

if ! command -v xmllint >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    say "xmllint is missing: run as root, or apt-get install libxml2-utils"
    exit 1
  fi
  say "installing libxml2-utils (xmllint)"
  apt_run install -y --no-install-recommends libxml2-utils
fi

complete() {
  [ -f "$out/nodedev.rng" ] || return 1
  local f inc
  for f in "$out"/*.rng; do
    for inc in $(grep -o 'include href="[^"]*"' "$f" | sed 's/.*href="\([^"]*\)"/\1/'); do
      [ -f "$out/$inc" ] || return 1
    done
  done
}

if complete; then
  echo "$out"
  exit 0
fi

debs="$cache/debs/libvirt"
mkdir -p "$debs" "$out"
if ! ls "$debs"/libvirt0_*.deb >/dev/null 2>&1; then
  say "downloading Debian's libvirt0 package (for its schemas only)"
  (cd "$debs" && apt_run download libvirt0)
fi
deb=$(ls "$debs"/libvirt0_*.deb | sort | tail -n 1)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work"
src="$work/usr/share/libvirt/schemas"
[ -f "$src/nodedev.rng" ] || { say "$deb has no usr/share/libvirt/schemas/nodedev.rng"; exit 1; }

# nodedev.rng and, transitively, the files it includes; into a fresh directory
# that replaces the old one only when complete.
new="$out.new"
rm -rf "$new"
mkdir -p "$new"
todo=(nodedev.rng)
while [ ${#todo[@]} -gt 0 ]; do
  f=${todo[0]}
  todo=("${todo[@]:1}")
  [ -f "$new/$f" ] && continue
  [ -f "$src/$f" ] || { say "$f, included by the schemas, is not in $deb"; exit 1; }
  cp "$src/$f" "$new/$f"
  for inc in $(grep -o 'include href="[^"]*"' "$src/$f" | sed 's/.*href="\([^"]*\)"/\1/'); do
    [ -f "$new/$inc" ] || todo+=("$inc")
  done
done
basename "$deb" > "$new/SOURCE"
rm -rf "$out"
mv "$new" "$out"
echo "$out"
