# Helpers for guest scripts (sourced from /mnt/host/lib.sh).
# A scenario writes one line per check to out/results.txt: "PASS name" or
# "FAIL name: why"; the host turns those into named test results.
# Guest scripts write to /sys (unbind, sriov_numvfs, remove, rescan…): they run only
# in the rig's QEMU guests, whose init (guest/init, persist-root.sh's rig9p) mounts
# the host's share over 9p at /mnt/host. Anywhere else — this machine, whose disk and
# network are PCI devices — every script that sources this file stops here, before
# its first write.
if ! awk '$2 == "/mnt/host" && $3 == "9p" { found = 1 } END { exit !found }' /proc/mounts; then
  echo "refusing to run: this is a rig guest script (it writes /sys); run it through tests/rig/run-guest.sh" >&2
  exit 1
fi
RESULTS=/mnt/host/out/results.txt
pass() { echo "PASS $1" >> "$RESULTS"; echo "PASS $1"; }
fail() { echo "FAIL $1: $2" >> "$RESULTS"; echo "FAIL $1: $2"; }
driver_of() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null || true; }
# scenario NAME CMD...: runs CMD (a command or shell function), keeps its output in
# out/NAME.log, and records "PASS NAME" when it exits 0, else "FAIL NAME: exit N: <last line>".
scenario() {
  sc_name=$1; shift
  sc_log="/mnt/host/out/$(echo "$sc_name" | tr '/ ' '__').log"
  "$@" > "$sc_log" 2>&1
  sc_rc=$?
  if [ "$sc_rc" -eq 0 ]; then pass "$sc_name"
  else fail "$sc_name" "exit $sc_rc: $(tail -n 1 "$sc_log" | head -c 200)"; fi
  return "$sc_rc"
}
