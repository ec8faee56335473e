# Helpers for guest scripts (sourced from /mnt/host/lib.sh).
# A scenario writes one line per check to out/results.txt: "PASS name" or
# "FAIL name: why"; the host turns those into named test results.
RESULTS=/mnt/host/out/results.txt
pass() { echo "PASS $1" >> "$RESULTS"; echo "PASS $1"; }
fail() { echo "FAIL $1: $2" >> "$RESULTS"; echo "FAIL $1: $2"; }
driver_of() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null || true; }
