#!/usr/bin/env bash
# Boots the rig's guest and runs one script in it.
#
#   run-guest.sh [--no-iommu] [--timeout SECONDS] [--out DIR] SCRIPT [FILE...]
#
# SCRIPT and FILEs (e.g. the static nodedev binary) are copied into a fresh 9p
# share that the guest mounts at /mnt/host; SCRIPT runs there with the guest's
# helpers (guest/lib.sh) beside it. Whatever the guest writes to /mnt/host/out
# lands in DIR (default: a new directory under the rig cache; its path is printed
# last). The console log is DIR/console.log (DIR/console.txt without \r), QEMU's
# own stderr DIR/qemu-stderr.txt. Named results (out/results.txt, lines "PASS name"
# or "FAIL name: why", see guest/lib.sh) are echoed to stderr with a count.
#
# Exit status: the guest script's, or 91 on timeout, 92 when the guest ended
# without the end marker (kernel panic, QEMU error).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
timeout=300 out="" no_iommu=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-iommu) no_iommu=1; shift;;
    --timeout) timeout=$2; shift 2;;
    --out) out=$2; shift 2;;
    *) break;;
  esac
done
[ $# -ge 1 ] || { echo "usage: run-guest.sh [--no-iommu] [--timeout S] [--out DIR] SCRIPT [FILE...]" >&2; exit 2; }
script=$1; shift
eval "$("$here/setup.sh")"
initrd=$("$here/build-initrd.sh")
share=$(mktemp -d "$CACHE/share.XXXXXX")
trap 'rm -rf "$share"' EXIT
mkdir -p "$share/out"
cp "$script" "$share/run.sh"
cp "$here/guest/lib.sh" "$share/lib.sh"
for f in "$@"; do cp -L "$f" "$share/"; done
[ -n "$out" ] || out=$(mktemp -d "$CACHE/out.XXXXXX")
mkdir -p "$out"
BOOT_ARGS=()
# shellcheck source=topology.sh
. "${RIG_TOPOLOGY:-$here/topology.sh}"   # xen-topology.sh: the Xen lane's boot
RIG_NO_IOMMU=$no_iommu rig_topology
[ ${#BOOT_ARGS[@]} -gt 0 ] || BOOT_ARGS=(-kernel "$CACHE/kroot/boot/vmlinuz-$KVER" -initrd "$initrd" -append "$KERNEL_APPEND")
set +e
timeout "$timeout" qemu-system-x86_64 "${QEMU_ARGS[@]}" "${BOOT_ARGS[@]}" \
  -serial "file:$out/console.log" \
  -virtfs "local,path=$share,mount_tag=host0,security_model=none,id=host0" </dev/null \
  2> "$out/qemu-stderr.txt"   # "nic ... has no peer" x10; shown below if the boot failed
qrc=$?
set -e
cp -r "$share/out/." "$out/" 2>/dev/null || true
tr -d '\r' < "$out/console.log" > "$out/console.txt" 2>/dev/null || true
echo "$out"
# The named results, for whoever watches the terminal (stdout stays just the path).
if [ -s "$out/results.txt" ]; then
  cat "$out/results.txt" >&2
  echo "run-guest: $(grep -c '^PASS' "$out/results.txt") passed, $(grep -c '^FAIL' "$out/results.txt") failed" >&2
fi
if [ $qrc -eq 124 ]; then echo "run-guest: timed out after ${timeout}s" >&2; exit 91; fi
marker=$(grep -o '===TEST-END rc=[0-9]*===' "$out/console.txt" | tail -n 1 || true)
if [ -z "$marker" ]; then
  echo "run-guest: the guest ended without the end marker (QEMU exit $qrc); see $out/console.txt" >&2
  grep -v 'has no peer' "$out/qemu-stderr.txt" >&2 || true
  tail -n 20 "$out/console.txt" >&2 || true
  exit 92
fi
rc=${marker#===TEST-END rc=}; rc=${rc%===}
exit "$rc"
