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
failed=0 total=0
for variant in iommu noiommu; do
  flags=()
  [ "$variant" = noiommu ] && flags=(--no-iommu)
  out=$(mktemp -d)
  # The IOMMU boot also runs guest/files.sh (snapshot outputs and hostile inputs)
  # after the scenarios, in the same boot; see tests/rig/README.md for its cost.
  scripts=(scenarios.sh)
  [ "$variant" = iommu ] && scripts+=(files.sh)
  runner=$(mktemp)
  { echo 'rc=0'; for s in "${scripts[@]}"; do echo "sh ./$s || rc=\$?"; done; echo 'exit $rc'; } > "$runner"
  "$here/run-guest.sh" "${flags[@]}" --timeout 600 --out "$out" "$runner" "$bin" "${scripts[@]/#/$here/guest/}" >/dev/null 2>"$out/run-guest.err"
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
echo "real-kernel: $((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
