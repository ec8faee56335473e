#!/usr/bin/env bash
# The persistence lane of tests/run: the Debian package's boot path on a real
# kernel with a real systemd-udevd, across five QEMU runs of one guest root.
#
#   1. packaging/build-deb.sh builds the .deb; lintian (tests/setup/lintian.sh)
#      must report no error and no warning;
#   2. persist-root.sh's Debian root is copied for this run (the kernel modules
#      as hard links) and booted five times (persist-topology.sh: systemd as
#      PID 1, the initramfs the root's initramfs-tools built, the root over 9p,
#      so /etc and /boot persist between runs); the third run has another card
#      model at the two assigned addresses; guest/persist.sh does and checks
#      each boot's part (its header lists them), installing the .deb with dpkg
#      in the first and purging it in the last.
#
# Prints "PASS persist/…" / "FAIL persist/…" lines and a count; exits 1 when
# anything failed. PERSIST_KEEP=DIR keeps the run's root and outputs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/setup.sh")"
failed=0 total=0
result() { # STATUS NAME [WHY]
  total=$((total + 1)); echo "$1 $2${3:+: $3}"; [ "$1" = PASS ] || failed=$((failed + 1))
}
t0=$(date +%s)
if ! deb=$("$here/../../packaging/build-deb.sh" 2> "$CACHE/persist-build-deb.log"); then
  result FAIL persist/build-deb "$(tail -n 3 "$CACHE/persist-build-deb.log" | tr '\n' ' ')"
  echo "persist: $((total - failed)) passed, $failed failed"; exit 1
fi
result PASS "persist/build-deb ($(basename "$deb"))"
lint=$("$here/../setup/lintian.sh" "$deb" -I --pedantic 2>&1); lrc=$?
if [ $lrc -eq 0 ] && ! echo "$lint" | grep -q '^[EW]:'; then
  result PASS "persist/lintian ($(echo "$lint" | grep -c '^[IP]:') info/pedantic tags, see docs/persistence.md)"
else
  result FAIL persist/lintian "$(echo "$lint" | grep -E '^[EW]:' | head -n 5 | tr '\n' ' ')"
fi
# The package says what it is built with: its binary and its description agree
# that it has no libvirt backend (built with the default features; issue 16).
pkgbin=$(mktemp -d)
dpkg-deb -x "$deb" "$pkgbin"
if "$pkgbin/usr/bin/nodedev" --version | grep -q '^libvirt backend: no' &&
   dpkg-deb -f "$deb" Description | tr -s '\n ' '  ' | grep -q 'without the libvirt backend'; then
  result PASS "persist/package-states-libvirt-backend (--version and Description: no)"
else
  result FAIL persist/package-states-libvirt-backend "$("$pkgbin/usr/bin/nodedev" --version | tail -n 1); $(dpkg-deb -f "$deb" Description | grep -i libvirt | head -n 2 | tr '\n' ' ')"
fi
rm -rf "$pkgbin"
t_build=$(date +%s)
root=$("$here/persist-root.sh") || { result FAIL persist/root "persist-root.sh failed"; echo "persist: $((total - failed)) passed, $failed failed"; exit 1; }
run=$(mktemp -d "$CACHE/persist-run.XXXXXX")
cleanup() { if [ -n "${PERSIST_KEEP:-}" ]; then rm -rf "$PERSIST_KEEP"; mv "$run" "$PERSIST_KEEP"; else rm -rf "$run"; fi; }
trap cleanup EXIT
# The root, copied; its kernel modules (read only, 400 MB) as hard links.
tar -C "$root" --exclude=./lib/modules -cf - . | tar -C "$run" -xpf - &&
  cp -al "$root/lib/modules" "$run/lib/" ||
  { result FAIL persist/root "cannot copy the root"; exit 1; }
mkdir -p "$run/out"
times=""
for phase in 1 2 3 4 5; do
  out="$run/out/boot$phase"; mkdir -p "$out"
  runner=$(mktemp)
  printf 'PHASE=%s\n. ./persist.sh\n' "$phase" > "$runner"
  swap=0; [ "$phase" = 3 ] && swap=1
  b0=$(date +%s)
  RIG_TOPOLOGY="$here/persist-topology.sh" RIG_PERSIST_ROOT="$run" RIG_PERSIST_SWAP=$swap \
    "$here/run-guest.sh" --timeout 600 --out "$out" "$runner" "$here/guest/persist.sh" "$deb" \
    > /dev/null 2> "$out/run-guest.err"
  rc=$?
  rm -f "$runner"
  times="$times boot$phase=$(( $(date +%s) - b0 ))s"
  if [ ! -s "$out/results.txt" ]; then
    result FAIL "persist/boot$phase" "the guest reported nothing (run-guest exit $rc)"
    tail -n 30 "$out/console.txt" 2>/dev/null | sed 's/^/    /'
    continue
  fi
  while read -r status name rest; do
    result "$status" "${name%:}" "$rest"
  done < "$out/results.txt"
  [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || result FAIL "persist/boot$phase" "run-guest exit $rc"
done
echo "persist: build+lintian $((t_build - t0)) s;$times; all $(( $(date +%s) - t0 )) s"
echo "persist: $((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
