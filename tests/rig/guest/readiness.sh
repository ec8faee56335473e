# Guest script: passthrough readiness on a real kernel (issue 17). `nodedev groups`
# must list every IOMMU group and member exactly as /sys/kernel/iommu_groups does,
# with the pcie-pci-bridge's group blocked by its e1000 until `detach --group`;
# `nodedev preflight` must write nothing, refuse what detach refuses (the 9p
# share), print the plan `detach --dry-run` prints, ask for --group in a shared
# group, and without an IOMMU say so and how to enable it.
# Each check writes "PASS readiness/NAME" or "FAIL readiness/NAME: why" (lib.sh).
. ./lib.sh
cp ./nodedev /tmp/nodedev
N="/tmp/nodedev --state-dir /run/nodedev-shim"
T=/tmp/readiness
rm -rf "$T"; mkdir -p "$T"

check() { # NAME CONDITION-COMMAND... : PASS if the command succeeds, else FAIL with $why
  c_name=$1; shift
  if "$@"; then pass "readiness/$c_name"; else fail "readiness/$c_name" "${why:-check failed}"; fi
}
# The kernel's bindings of every function: driver and driver_override.
bindings() {
  for d in /sys/bus/pci/devices/*; do
    echo "$(basename "$d") $(driver_of "$(basename "$d")") $(cat "$d/driver_override" 2>/dev/null)"
  done
}
# The "Would detach" block of a preflight's output.
plan_of() { awk '/^Would detach/{p=1} p&&/^$/{exit} p' "$1"; }
# A group's header line in a groups listing.
header_of() { grep "^IOMMU group $2:" "$1"; }
group_of() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }

if [ -n "$(ls /sys/kernel/iommu_groups 2>/dev/null)" ]; then
  # Every group and member, as the kernel lists them.
  $N groups > "$T/groups.out" 2> "$T/groups.err"; rc=$?
  why="exit $rc: $(head -c 200 "$T/groups.err")"
  check groups-exit-0 test "$rc" = 0
  for g in /sys/kernel/iommu_groups/*; do
    for d in "$g"/devices/*; do echo "$(basename "$g") $(basename "$d")"; done
  done | sort > "$T/kernel.pairs"
  # "IOMMU group N: …" then "  BB:DD.F pci_DDDD_BB_DD_F  …" lines.
  awk '/^IOMMU group /{g=$3; sub(":", "", g); next}
       /^  /{n=$2; split(n, p, "_"); printf "%s %s:%s:%s.%s\n", g, p[2], p[3], p[4], p[5]}' \
    "$T/groups.out" | sort > "$T/tool.pairs"
  why="$(diff "$T/kernel.pairs" "$T/tool.pairs" | grep '^[<>]' | head -c 300 | tr '\n' '|')"
  check groups-match-the-kernel-member-by-member cmp -s "$T/kernel.pairs" "$T/tool.pairs"
  why="$(wc -l < "$T/kernel.pairs") pairs"
  check groups-not-empty test "$(wc -l < "$T/kernel.pairs")" -gt 20
  grep '^IOMMU group ' "$T/groups.out" | awk '{sub(":", "", $3); print $3}' > "$T/order"
  why="order: $(tr '\n' ' ' < "$T/order")"
  check groups-in-numeric-order sh -c "sort -n '$T/order' | cmp -s - '$T/order'"

  # The pcie-pci-bridge's group: two e1000 and the bridge, exempt.
  g=$(group_of 0000:09:01.0)
  awk -v h="IOMMU group $g:" '$0 ~ "^"h {p=1; next} /^IOMMU group /{p=0} p' "$T/groups.out" > "$T/bridge-group"
  why="$(tr '\n' '|' < "$T/bridge-group" | head -c 400)"
  check bridge-group-has-two-e1000 test "$(grep -c 'driver: e1000$' "$T/bridge-group")" = 2
  # The guest has no pci.ids, so names read "Class"/"Device" (the golden files
  # check the names); class codes, ids and revisions come from the kernel.
  check bridge-group-bridge-exempt grep -q '^  08:00.0 pci_0000_08_00_0  .* \[0604\]: .*\[1b36:000e\] (rev 00)  no driver, exempt (bridge)$' "$T/bridge-group"
  check bridge-group-e1000-ids grep -q '^  09:01.0 pci_0000_09_01_0  .* \[0200\]: .*\[8086:100e\] (rev 03)  driver: e1000$' "$T/bridge-group"
  header_of "$T/groups.out" "$g" > "$T/bridge-header"
  why="$(cat "$T/bridge-header")"
  check bridge-group-blocked-by-e1000 grep -q 'blocked by 09:01.0 (e1000)' "$T/bridge-header"

  # preflight on the shared group: ready with --group, naming the other e1000,
  # and the plan is `detach --group --dry-run`'s.
  bindings > "$T/before"
  $N preflight pci_0000_09_01_0 > "$T/pf-group.out" 2> "$T/pf-group.err"; rc=$?
  why="exit $rc: $(head -n 1 "$T/pf-group.out") $(head -c 200 "$T/pf-group.err")"
  check preflight-shared-group-ready-with-group sh -c "test $rc = 0 && head -n 1 '$T/pf-group.out' | grep -q '^pci_0000_09_01_0: ready with --group (its IOMMU group needs 09:02.0 detached too)$'"
  $N -q detach --group --dry-run pci_0000_09_01_0 > "$T/dry-group.out" 2>&1
  plan_of "$T/pf-group.out" > "$T/pf-group.plan"
  why="preflight: $(tr '\n' '|' < "$T/pf-group.plan" | head -c 300) dry run: $(tr '\n' '|' < "$T/dry-group.out" | head -c 300)"
  check preflight-group-plan-is-the-dry-run-plan sh -c "test -s '$T/pf-group.plan' && cmp -s '$T/pf-group.plan' '$T/dry-group.out'"

  # detach --group makes the group viable; reattach makes it blocked again.
  if $N -q detach --group pci_0000_09_01_0 > "$T/detach.out" 2>&1; then
    $N groups --group "$g" > "$T/after.out" 2>&1
    why="$(head -n 1 "$T/after.out")"
    check viable-after-detach-group sh -c "head -n 1 '$T/after.out' | grep -qx 'IOMMU group $g: viable'"
    $N preflight pci_0000_09_02_0 > "$T/pf-after.out" 2>&1; rc=$?
    why="exit $rc: $(head -n 1 "$T/pf-after.out")"
    check preflight-after-detach-ready sh -c "test $rc = 0 && head -n 1 '$T/pf-after.out' | grep -qx 'pci_0000_09_02_0: ready'"
    $N -q reattach pci_0000_09_01_0 pci_0000_09_02_0 > "$T/reattach.out" 2>&1
  else
    fail readiness/viable-after-detach-group "detach --group failed: $(head -c 200 "$T/detach.out")"
  fi
  $N groups --group "$g" > "$T/back.out" 2>&1
  why="$(head -n 1 "$T/back.out")"
  check blocked-again-after-reattach grep -q "^IOMMU group $g: blocked by 09:01.0 (e1000), 09:02.0 (e1000)$" "$T/back.out"

  # The 9p share the guest runs from is mounted: blocked, and says why.
  $N preflight pci_0000_00_02_0 > "$T/pf-9p.out" 2> "$T/pf-9p.err"; rc=$?
  why="exit $rc: $(head -n 1 "$T/pf-9p.out" | head -c 300)"
  check preflight-9p-share-blocked sh -c "test $rc = 1 && head -n 1 '$T/pf-9p.out' | grep -q '^pci_0000_00_02_0: blocked: 0000:00:02.0 is in use by the host: 9p share .host0. is mounted on /mnt/host'"
  check preflight-9p-no-plan sh -c "! grep -q '^Would detach' '$T/pf-9p.out'"

  # An e1000e alone in its group: ready, and the plan is `detach --dry-run`'s.
  $N preflight pci_0000_00_01_0 > "$T/pf-nic.out" 2> "$T/pf-nic.err"; rc=$?
  why="exit $rc: $(head -n 1 "$T/pf-nic.out") $(head -c 200 "$T/pf-nic.err")"
  check preflight-e1000e-ready sh -c "test $rc = 0 && head -n 1 '$T/pf-nic.out' | grep -qx 'pci_0000_00_01_0: ready'"
  $N -q detach --dry-run pci_0000_00_01_0 > "$T/dry-nic.out" 2>&1
  plan_of "$T/pf-nic.out" > "$T/pf-nic.plan"
  why="preflight: $(tr '\n' '|' < "$T/pf-nic.plan") dry run: $(tr '\n' '|' < "$T/dry-nic.out")"
  check preflight-plan-is-the-dry-run-plan sh -c "test \$(wc -l < '$T/pf-nic.plan') = 4 && cmp -s '$T/pf-nic.plan' '$T/dry-nic.out'"
  # What the kernel says about its IOMMU (intel-iommu,intremap=on; iommu=pt).
  why="$(grep -E '^  (IOMMU|group)' "$T/pf-nic.out" | tr '\n' '|')"
  check preflight-iommu-present grep -q '^  IOMMU:     present ([0-9]* groups; Intel VT-d dmar0; interrupt remapping on)$' "$T/pf-nic.out"
  check preflight-passthrough-domain grep -q '^  group [0-9]*:  *passthrough (identity: iommu=pt)$' "$T/pf-nic.out"
  check preflight-stub-loaded grep -q '^  stub:      vfio-pci: loaded$' "$T/pf-nic.out"
  check preflight-host-use-checked grep -q '^  host use:  none found' "$T/pf-nic.out"
  would_use=$($N reset --list pci_0000_00_01_0 | sed -n 's/^  would use: *//p')
  why="reset --list: '$would_use'; preflight: $(grep '^  reset:' "$T/pf-nic.out")"
  printf '  reset:     %s\n' "$would_use" > "$T/want-reset"
  check preflight-reset-as-reset-list sh -c "test -n \"\$1\" && grep -qxF -f '$T/want-reset' '$T/pf-nic.out'" - "$would_use"

  # preflight of every function writes nothing: same bindings, no record.
  $N -q list --cap pci > "$T/all"
  $N preflight $(cat "$T/all") > "$T/pf-all.out" 2> "$T/pf-all.err"; rc=$?
  why="exit $rc: $(head -c 200 "$T/pf-all.err")"
  check preflight-all-exits-1-with-blocked sh -c "test $rc = 1 && test \$(grep -c '^pci_[0-9a-f_]*: ' '$T/pf-all.out') = \$(wc -l < '$T/all')"
  bindings > "$T/after-all"
  why="$(diff "$T/before" "$T/after-all" | grep '^[<>]' | head -c 300 | tr '\n' '|')"
  check preflight-writes-nothing cmp -s "$T/before" "$T/after-all"
  why="$(ls /run/nodedev-shim/devices 2>/dev/null)"
  check preflight-leaves-no-record test -z "$(ls /run/nodedev-shim/devices 2>/dev/null)"
  $N groups --json > "$T/groups.json" 2>&1; rc=$?
  why="exit $rc"
  check groups-json sh -c "test $rc = 0 && grep -q '\"standing\": \"exempt\"' '$T/groups.json'"
else
  # Without an IOMMU: no groups (exit 0, how to enable it); preflight blocked.
  $N groups > "$T/groups.out" 2>&1; rc=$?
  why="exit $rc: $(head -c 300 "$T/groups.out")"
  check no-iommu-groups-says-so sh -c "test $rc = 0 && head -n 1 '$T/groups.out' | grep -q '^No IOMMU groups' && grep -q 'intel_iommu=on' '$T/groups.out'"
  $N preflight pci_0000_00_01_0 > "$T/pf.out" 2>&1; rc=$?
  why="exit $rc: $(head -n 1 "$T/pf.out" | head -c 300)"
  check no-iommu-preflight-blocked sh -c "test $rc = 1 && head -n 1 '$T/pf.out' | grep -q '^pci_0000_00_01_0: blocked: no IOMMU: ' && head -n 1 '$T/pf.out' | grep -q 'intel_iommu=on'"
  # The same device through pci-stub needs no IOMMU.
  $N preflight --driver pci-stub pci_0000_00_01_0 > "$T/pf-stub.out" 2>&1; rc=$?
  why="exit $rc: $(head -n 1 "$T/pf-stub.out")"
  check no-iommu-pci-stub-ready sh -c "test $rc = 0 && head -n 1 '$T/pf-stub.out' | grep -qx 'pci_0000_00_01_0: ready'"
fi
