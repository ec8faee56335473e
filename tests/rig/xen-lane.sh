#!/usr/bin/env bash
# The Xen lane: one boot of Xen 4.17 with the rig's Debian kernel as its PV dom0
# (xen-setup.sh, xen-topology.sh), running guest/xen-scenarios.sh: detach to pciback
# by driver_override and by the seed's new_id path (EEXIST tolerated), a batch,
# --group without IOMMU groups, the libvirt hook, virsh mode, xl from Debian's
# xen-utils with xenstored running in dom0, and the refusals. Prints every named
# result as xen/NAME.
#
#   xen-lane.sh [NODEDEV_BINARY]    (default: tests/rig/build-static.sh's build)
#
# Checks listed in guest/xen-known.txt are known tool bugs: they print KNOWN-FAIL
# with their reason and do not fail the lane, but one that passes fails it, so the
# list is emptied when the bug is fixed. Fails if any other check failed, or the
# boot did not finish. XEN_KEEP_OUT=DIR keeps the guest's outputs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
start=$(date +%s)
if [ $# -ge 1 ]; then bin=$1; else bin=$("$here/build-static.sh") || { echo "xen-lane: static build failed" >&2; exit 1; }; fi
known="$here/guest/xen-known.txt"
out=$(mktemp -d)
RIG_TOPOLOGY="$here/xen-topology.sh" "$here/run-guest.sh" --timeout 600 --out "$out" \
  "$here/guest/xen-scenarios.sh" "$bin" >/dev/null 2>"$out/run-guest.err"
rc=$?
failed=0 total=0 knownfail=0 shown=""
if [ ! -s "$out/results.txt" ]; then
  echo "FAIL xen: the guest reported nothing (run-guest exit $rc)"; cat "$out/run-guest.err"
  tail -n 30 "$out/console.txt" 2>/dev/null
  failed=1 total=1
else
  while read -r status name rest; do
    name=${name%:}
    why=$(awk -v n="$name" '!/^#/ && NF { i = index($0, ": "); split(substr($0, 1, i - 1), names, " ");
      for (k in names) if (names[k] == n) { print substr($0, i + 2); exit } }' "$known" 2>/dev/null)
    total=$((total + 1))
    if [ -n "$why" ] && [ "$status" = FAIL ]; then
      knownfail=$((knownfail + 1))
      echo "KNOWN-FAIL xen/$name ${rest}"
      case "$shown" in *"|$why|"*) ;; *) echo "    known: $why"; shown="$shown|$why|";; esac
    elif [ -n "$why" ]; then
      failed=$((failed + 1))
      echo "FAIL xen/$name: passes now; remove it from tests/rig/guest/xen-known.txt"
    else
      echo "$status xen/$name ${rest}"
      [ "$status" = PASS ] || failed=$((failed + 1))
    fi
  done < "$out/results.txt"
fi
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
  echo "FAIL xen: run-guest exit $rc"; failed=$((failed + 1)); total=$((total + 1))
  tail -n 20 "$out/console.txt" 2>/dev/null
fi
times=$(awk '{printf "%s %s  ", $1, $2}' "$out/xen-times.txt" 2>/dev/null)
echo "xen: $((total - failed - knownfail)) passed, $failed failed, $knownfail known failures; $(( $(date +%s) - start )) s; dom0 uptime at each step: $times"
[ -n "${XEN_KEEP_OUT:-}" ] && { rm -rf "$XEN_KEEP_OUT"; cp -r "$out" "$XEN_KEEP_OUT"; }
rm -rf "$out"
[ "$failed" -eq 0 ]
