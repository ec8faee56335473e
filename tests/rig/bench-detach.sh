#!/usr/bin/env bash
# Benchmark (not a test): 32 e1000e functions on pcie.0 (4 multifunction slots of 8)
# detached to vfio-pci and reattached, by a nodedev batch, by 32 nodedev calls, and
# by raw sysfs writes from a shell loop. Prints the guest's timings.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$("$here/build-static.sh")
extra=()
for slot in 8 9 10 11; do
  for fn in 0 1 2 3 4 5 6 7; do
    mf=""; [ $fn = 0 ] && mf=",multifunction=on"
    extra+=(-device "e1000e,bus=pcie.0,addr=$(printf '0x%x' $slot).$fn$mf,romfile=")
  done
done
out=$(mktemp -d)
RIG_EXTRA_DEVICES="${extra[*]}" RIG_MINIMAL=1 "$here/run-guest.sh" --timeout 900 --out "$out" "$here/guest/bench-detach.sh" "$bin" >/dev/null
cat "$out/bench.txt"
grep -q '^PASS bench' "$out/results.txt"
