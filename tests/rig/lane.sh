#!/usr/bin/env bash
# The real-kernel lane: builds nodedev statically, boots the rich topology in QEMU
# with an IOMMU and without, runs guest/scenarios.sh in each (and guest/files.sh
# after it in the IOMMU boot), prints every named
# result, validates every XML document the guest printed against libvirt's
# nodedev.rng, and fails if any check failed or a boot did not finish.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
schemas=${NODEDEV_LIBVIRT_SCHEMAS:-$("$here/../setup/libvirt-schemas.sh" | tail -n 1)}
bin=$("$here/build-static.sh") || { echo "lane: static build failed" >&2; exit 1; }
# The oracle also runs nodedev through libvirt: the build with the libvirt backend
# (dynamically linked; it runs in the libvirt root, where libvirt0 is).
binlv=$("$here/build-libvirt.sh") || { echo "lane: the libvirt build failed" >&2; exit 1; }
failed=0 total=0
# RIG_LANE_VARIANTS narrows the busybox boots (e.g. "" to run only the oracle);
# RIG_LANE_ORACLE=0 skips the oracle boot.
for variant in ${RIG_LANE_VARIANTS-iommu noiommu}; do
  flags=()
  [ "$variant" = noiommu ] && flags=(--no-iommu)
  out=$(mktemp -d)
  # The IOMMU boot also runs guest/files.sh (snapshot outputs and hostile inputs)
  # after the scenarios, in the same boot; see tests/rig/README.md for its cost.
  scripts=(scenarios.sh readiness.sh)
  [ "$variant" = iommu ] && scripts+=(files.sh journal.sh)
  runner=$(mktemp)
  { echo 'rc=0'; for s in "${scripts[@]}"; do echo "sh ./$s || rc=\$?"; done; echo 'exit $rc'; } > "$runner"
  "$here/run-guest.sh" "${flags[@]}" --timeout 600 --out "$out" "$runner" "$bin" "$(dirname "$bin")/examples/hold_lock" "${scripts[@]/#/$here/guest/}" >/dev/null 2>"$out/run-guest.err"
  rc=$?
  rm -f "$runner"
  if [ ! -s "$out/results.txt" ]; then
    echo "FAIL real-kernel/$variant: the guest reported nothing (run-guest exit $rc)"; cat "$out/run-guest.err"
    tail -n 30 "$out/console.txt" 2>/dev/null
    failed=$((failed + 1)); total=$((total + 1)); continue
  fi
  while read -r status name rest; do
    total=$((total + 1))
    echo "$status real-kernel/$variant/${name%:} ${rest}"
    [ "$status" = PASS ] || failed=$((failed + 1))
  done < "$out/results.txt"
  # Every document printed in the guest validates against libvirt's schema.
  if [ -s "$out/dumpxml-all.xml" ]; then
    docs=$(mktemp -d)
    awk -v d="$docs" '/^<device>$/{n++} n{print > (d "/" n ".xml")}' "$out/dumpxml-all.xml"
    bad=0 count=0
    for f in "$docs"/*.xml; do
      count=$((count + 1))
      xmllint --noout --relaxng "$schemas/nodedev.rng" "$f" 2>>"$out/xmllint.err" || bad=$((bad + 1))
    done
    total=$((total + 1))
    if [ "$bad" -eq 0 ] && [ "$count" -gt 0 ]; then
      echo "PASS real-kernel/$variant/dumpxml-validates ($count documents)"
    else
      echo "FAIL real-kernel/$variant/dumpxml-validates: $bad of $count invalid"; head -n 20 "$out/xmllint.err"
      failed=$((failed + 1))
    fi
    rm -rf "$docs"
  fi
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    echo "FAIL real-kernel/$variant: run-guest exit $rc"; failed=$((failed + 1)); total=$((total + 1))
  fi
  rm -rf "$out"
done
# The oracle: real libvirtd 9.0 and udevd in the guest (RIG_CLASSES=1: every device
# class libvirt lists), every answer compared with nodedev's (guest/oracle.sh).
oracle_start=$(date +%s)
out=$(mktemp -d)
if [ "${RIG_LANE_ORACLE:-1}" = 0 ]; then
  :
elif ! lvroot=$("$here/libvirt-root.sh" 2>"$out/lvroot.err"); then
  echo "FAIL real-kernel/oracle/libvirt-root: $(tail -n 3 "$out/lvroot.err")"; failed=$((failed + 1)); total=$((total + 1))
else
  RIG_CLASSES=1 RIG_LVROOT=$lvroot "$here/run-guest.sh" --timeout 900 --out "$out" "$here/guest/oracle.sh" \
    "$bin" "$binlv" "$here/guest/tree.awk" "$here/guest/oracle-pending.txt" "$here/guest/oracle-lib.sh" >/dev/null 2>"$out/run-guest.err"
  rc=$?
  known=0
  if [ ! -s "$out/results.txt" ]; then
    echo "FAIL real-kernel/oracle: the guest reported nothing (run-guest exit $rc)"; cat "$out/run-guest.err"
    tail -n 30 "$out/console.txt" 2>/dev/null
    failed=$((failed + 1)); total=$((total + 1))
  else
    while read -r status name rest; do
      name=${name%:}
      case "$status" in
        KNOWN-DIFF) known=$((known + 1)); echo "KNOWN-DIFF real-kernel/$name ${rest}"
          # A known difference of a check (not a pending class) shows its diff.
          case "$rest" in class*) ;; *) d="$out/diffs/$(echo "${name#oracle/}" | tr '/ ' '__').diff"
            [ -f "$d" ] && sed 's/^/    /' "$d" | head -n 40;; esac
          continue;;
      esac
      total=$((total + 1))
      echo "$status real-kernel/$name ${rest}"
      if [ "$status" != PASS ]; then
        failed=$((failed + 1))
        d="$out/diffs/$(echo "${name#oracle/}" | tr '/ ' '__').diff"
        [ -f "$d" ] && sed 's/^/    /' "$d" | head -n 60
      fi
    done < "$out/results.txt"
    # Every address of the base topology is where it was.
    total=$((total + 1))
    moved=$(grep -v '^#' "$here/topology-base.txt" | grep -vxF -f "$out/pci-ids.txt" 2>/dev/null)
    if [ -s "$out/pci-ids.txt" ] && [ -z "$moved" ]; then
      echo "PASS real-kernel/oracle/topology-base-addresses-stable ($(grep -vc '^#' "$here/topology-base.txt") functions)"
    else
      echo "FAIL real-kernel/oracle/topology-base-addresses-stable: moved or missing: $moved"; failed=$((failed + 1))
    fi
    cat "$out/oracle-summary.txt" 2>/dev/null || { echo "FAIL real-kernel/oracle: no summary (run-guest exit $rc)"; failed=$((failed + 1)); }
    times=$(awk '{printf "%s %s  ", $2, $3}' "$out/oracle-times.txt" 2>/dev/null)
    echo "oracle: boot finished in $(( $(date +%s) - oracle_start )) s; guest uptime at each step: $times"
  fi
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    echo "FAIL real-kernel/oracle: run-guest exit $rc"; failed=$((failed + 1)); total=$((total + 1))
    tail -n 20 "$out/console.txt" 2>/dev/null
  fi
  [ -n "${RIG_KEEP_ORACLE_OUT:-}" ] && { rm -rf "$RIG_KEEP_ORACLE_OUT"; cp -r "$out" "$RIG_KEEP_ORACLE_OUT"; }
fi
rm -rf "$out"

echo "real-kernel: $((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
