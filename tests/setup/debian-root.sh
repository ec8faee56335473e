#!/usr/bin/env bash
# Extracts a set of Debian packages with their whole dependency closure into a
# directory of the cache, never installing anything on this machine:
#
#   debian-root.sh NAME "PACKAGE…" [--dpkg-db]     prints the root's path
#
# apt resolves the closure against an empty dpkg status (so libc6 and the rest
# are fetched too) and downloads it into the cache; every .deb is unpacked with
# dpkg-deb -x: no maintainer script runs, no daemon starts. With --dpkg-db the
# root also gets a dpkg database saying those packages are installed (status,
# file lists, maintainer scripts and trigger interests, as dpkg would leave
# them), so dpkg inside the root can install more packages against them.
# The root is ${NODEDEV_CACHE:-~/.cache/nodedev-shim}/NAME-<hash of the package list
# and this script>, built once per such version; callers add what they need after
# (their own stamp). Needs root (chroot-free, but file ownership).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: debian-root.sh NAME \"PACKAGE…\" [--dpkg-db]" >&2; exit 2; }
name=$1 packages=$2 db=${3:-}
cache="${NODEDEV_CACHE:-$HOME/.cache/nodedev-shim}"
debs="$cache/debian-debs"
stamp="$packages $db $(sha256sum "$0" | cut -c1-16)"
# One directory per version of the root: a run of another checkout (another
# script, another package list) builds its own instead of replacing one a guest
# may be reading over 9p at that moment.
root="$cache/$name-$(printf %s "$stamp" | sha256sum | cut -c1-12)"
if [ -f "$root/.debian-root-stamp" ] && [ "$(cat "$root/.debian-root-stamp")" = "$stamp" ]; then
  echo "$root"; exit 0
fi
log() { echo "debian-root($name): $*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "needs root (file ownership)"; exit 1; }
mkdir -p "$debs/partial"
status="$cache/debian-root-empty-status"
: > "$status"
APT=(-o "Dir::State::status=$status" -o "Dir::Cache::Archives=$debs"
     -o Debug::NoLocking=1 -o APT::Install-Recommends=false -o APT::Install-Suggests=false)
# shellcheck disable=SC2086
fetch() { DEBIAN_FRONTEND=noninteractive apt-get "${APT[@]}" install --download-only -y -q $packages >"$cache/debian-root-$name-apt.log" 2>&1; }
if ! fetch; then
  log "download failed; running apt-get update and retrying"
  apt-get update >/dev/null || { log "apt-get update failed"; exit 1; }
  fetch || { log "apt-get download failed: $(tail -n 5 "$cache/debian-root-$name-apt.log")"; exit 1; }
fi
# Only the versions this resolution chose (older downloads may sit beside them).
# shellcheck disable=SC2086
mapfile -t chosen < <(apt-get "${APT[@]}" install -s -y -q $packages 2>/dev/null |
  awk '/^Inst /{v=$3; sub(/^\(/,"",v); gsub(/:/,"%3a",v); print $2 "_" v}')
[ "${#chosen[@]}" -gt 0 ] || { log "cannot list the resolved packages"; exit 1; }
tmp="$root.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
info="$tmp/var/lib/dpkg/info"
if [ "$db" = --dpkg-db ]; then
  mkdir -p "$info" "$tmp/var/lib/dpkg"/{updates,triggers,alternatives} "$tmp/var/lib/dpkg/parts"
  : > "$tmp/var/lib/dpkg/status"; : > "$tmp/var/lib/dpkg/available"
  echo amd64 > "$tmp/var/lib/dpkg/arch"
fi
ctl=$(mktemp -d)
for f in "${chosen[@]}"; do
  deb=$(ls "$debs/$f"_*.deb 2>/dev/null | head -n 1)
  [ -n "$deb" ] || { log "missing $debs/${f}_*.deb"; exit 1; }
  dpkg-deb -x "$deb" "$tmp"
  [ "$db" = --dpkg-db ] || continue
  rm -rf "$ctl"/*
  dpkg-deb -e "$deb" "$ctl"
  pkg=$(dpkg-deb -f "$deb" Package)
  [ "$(dpkg-deb -f "$deb" Multi-Arch)" = same ] && pkg="$pkg:$(dpkg-deb -f "$deb" Architecture)"
  { sed -e '/^Status:/d' "$ctl/control" | awk 'NR==1{print; print "Status: install ok installed"; next} {print}'; echo; } >> "$tmp/var/lib/dpkg/status"
  dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' -e 's|^$|/.|' > "$info/$pkg.list"
  for c in preinst postinst prerm postrm triggers conffiles shlibs symbols templates config md5sums; do
    [ -f "$ctl/$c" ] && cp -p "$ctl/$c" "$info/$pkg.$c"
  done
  # Trigger interests, as dpkg registers them at install.
  if [ -f "$ctl/triggers" ]; then
    awk '$1 ~ /^interest/ {print $2}' "$ctl/triggers" | while read -r t; do
      case "$t" in
        /*) echo "$t ${pkg%%:*}" >> "$tmp/var/lib/dpkg/triggers/File";;
        *) echo "${pkg%%:*}" >> "$tmp/var/lib/dpkg/triggers/$t";;
      esac
    done
  fi
done
rm -rf "$ctl"
echo "$stamp" > "$tmp/.debian-root-stamp"
# Another run may have built this very version meanwhile: keep the first.
mv -T "$tmp" "$root" 2>/dev/null || rm -rf "$tmp"
trap - EXIT
log "built $root: ${#chosen[@]} packages, $(du -sh "$root" | cut -f1)"
echo "$root"
