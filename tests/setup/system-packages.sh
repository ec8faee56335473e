#!/usr/bin/env bash
# Installs the Debian packages the tests read real data from, if they are missing:
#   xmllint (libxml2-utils)  validates our XML against libvirt's RelaxNG schema
#   pci.ids                  the vendor/product name database lspci and libvirt use
#   pciutils                 lspci, the benchmark's baseline
#   libvirt-dev              libvirt's headers and libvirt0 (the client library, no
#                            daemon: libvirt0 has no maintainer script but ldconfig's
#                            trigger, so nothing starts), for `--features libvirt`
# Idempotent: a second run only checks. Never touches anything but these packages.
set -euo pipefail

need=()
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
[ -f /usr/share/misc/pci.ids ] || [ -f /usr/share/hwdata/pci.ids ] || need+=(pci.ids)
command -v lspci >/dev/null 2>&1 || need+=(pciutils)
pkg-config --exists libvirt 2>/dev/null || need+=(libvirt-dev)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "tests/setup/system-packages.sh: missing ${need[*]}; run as root or install them (apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi
