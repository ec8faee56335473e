# Guest script of the Xen lane (xen-lane.sh): runs in a PV dom0 of Xen 4.17 (the
# rig's Debian kernel, busybox initramfs; topology in xen-topology.sh). Each check
# writes "PASS name" or "FAIL name: why" to out/results.txt (lib.sh).
#
#   A 00:01.0, B 00:03.0, C 00:04.0, M0-M2 00:05.0-.2: e1000e 8086:10d3 (one id)
#   E 02:01.0 e1000 behind the pcie-pci-bridge 01:00.0, under the root port 00:10.0
#   00:02.0 and 00:1e.0: the 9p shares (mounted)
. ./lib.sh
cp ./nodedev /tmp/nodedev
N="/tmp/nodedev --state-dir /run/nodedev-shim --unbind-timeout 20"
A=0000:00:01.0 B=0000:00:03.0 C=0000:00:04.0 M0=0000:00:05.0 M1=0000:00:05.1 M2=0000:00:05.2
E=0000:02:01.0 BR=0000:01:00.0 RP=0000:00:10.0 SHARE=0000:00:02.0
PB=/sys/bus/pci/drivers/pciback
stamp() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >> out/xen-times.txt; }
stamp boot

name() { echo "pci_$(echo "$1" | tr ':.' '__')"; }
tag() { echo "$1" | cut -c6- | tr ':' '_'; }   # 0000:00:05.1 -> 00_05.1, for check names
# run NAME EXPECTED_RC CMD...: CMD's stdout/stderr in out/NAME.{out,err}; records a
# FAIL (and returns 1) when the exit status differs.
run() {
  run_name=$1 run_want=$2; shift 2
  "$@" > "out/$run_name.out" 2> "out/$run_name.err"
  run_rc=$?
  if [ "$run_rc" != "$run_want" ]; then
    # --json reports a failure on stdout.
    said=out/$run_name.err; [ -s "$said" ] || said=out/$run_name.out
    fail "$run_name" "exit $run_rc, wanted $run_want: $(head -c 300 "$said" | tr '\n' ' ')"
    return 1
  fi
  pass "$run_name"
}
expect_driver() { # NAME BDF DRIVER ("" for none)
  got=$(driver_of "$2")
  if [ "$got" = "$3" ]; then pass "$1"; else fail "$1" "$2 is on '${got}', wanted '$3'"; fi
}
no_override() { # NAME BDF
  o=$(cat "/sys/bus/pci/devices/$2/driver_override")
  if [ "$o" = "(null)" ]; then pass "$1"; else fail "$1" "driver_override of $2 is '$o'"; fi
}
slots() { cat $PB/slots 2>/dev/null | tr -d ' '; }
no_slot() { # NAME BDF: pciback does not list the slot (it would seize the device on any later probe)
  if slots | grep -qx "$2"; then fail "$1" "pciback/slots still lists $2 ($(slots | tr '\n' ' '))"; else pass "$1"; fi
}
has_slot() {
  if slots | grep -qx "$2"; then pass "$1"; else fail "$1" "pciback/slots does not list $2 ($(slots | tr '\n' ' '))"; fi
}
# writes FILE: the sysfs writes of a --json batch report, one "path|data|errno" per line.
writes() {
  awk '/"path":/{p=$2} /"data":/{d=$0; sub(/^ *"data": "/,"",d); sub(/",?$/,"",d)}
       /"errno":/{e=$2; gsub(/[",]/,"",p); gsub(/,/,"",e); print p "|" d "|" e}' "$1"
}
# wrote NAME FILE PATTERN [absent]: the write list of FILE has (or, with "absent",
# has not) a line matching the extended regex PATTERN.
wrote() {
  writes "$2" > /tmp/writes.txt
  if grep -Eq "$3" /tmp/writes.txt; then found=yes; else found=no; fi
  if { [ "$found" = yes ] && [ "${4:-}" != absent ]; } || { [ "$found" = no ] && [ "${4:-}" = absent ]; }; then
    pass "$1"
  else
    fail "$1" "writes ${4:+(must have none) }matching '$3': $(tr '\n' ' ' < /tmp/writes.txt | head -c 400)"
  fi
}
contains() { # NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1" "$(basename "$2") lacks '$3': $(head -c 300 "$2" | tr '\n' ' ')"; fi
}
no_record() { # NAME BDF
  if [ -e "/run/nodedev-shim/devices/$2.json" ]; then fail "$1" "record left: $(cat "/run/nodedev-shim/devices/$2.json" | tr -d '\n ')"; else pass "$1"; fi
}

# --- The Xen tools: xenstored and xl from Debian's xen-utils-4.17 (xenroot, 9p) ---
XR=/xenroot
LD=$XR/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
LP=$XR/lib/x86_64-linux-gnu:$XR/usr/lib/x86_64-linux-gnu
xtool() { t=$1; shift; "$LD" --library-path "$LP" "$XR/usr/lib/xen-4.17/bin/$t" "$@"; }
xenstore() { t=$1; shift; "$LD" --library-path "$LP" "$XR/usr/bin/$t" "$@"; }
xl() { xtool xl "$@"; }
xl_setup() {
  mkdir -p $XR && mount -t 9p -o trans=virtio,version=9p2000.L,ro xenroot $XR || return 1
  for m in xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc; do insmod "$XR/modules/$m.ko" || return 1; done
  mkdir -p /proc/xen /var/run/xenstored /var/lib/xenstored /var/lib/xen /var/log/xen /run/xen /etc/xen /var/lock
  mount -t xenfs xenfs /proc/xen || return 1
  : > /etc/xen/xl.conf
  xtool xenstored --pid-file /run/xenstored.pid || return 1
  xtool xen-init-dom0 || return 1
  xl list
}
# The devices xl calls assignable (bound to pciback), one BDF a line, sorted.
xl_assignable() { xl pci-assignable-list 2>>out/xl-stderr.txt | awk 'NF{print $1}' | sort; }
expect_assignable() { # NAME BDF...: xl lists exactly these
  n=$1; shift
  want=$(for b in "$@"; do echo "$b"; done | sort)
  got=$(xl_assignable)
  if [ "$got" = "$want" ]; then pass "$n"; else fail "$n" "xl pci-assignable-list says '$(echo $got)', wanted '$(echo $want)'"; fi
}

# --- Preconditions: a real PV dom0, no IOMMU groups, pciback not loaded ---------
[ "$(cat /sys/hypervisor/type 2>/dev/null)" = xen ] && pass dom0-hypervisor-is-xen || fail dom0-hypervisor-is-xen "/sys/hypervisor/type: $(cat /sys/hypervisor/type 2>&1)"
if [ -z "$(ls /sys/kernel/iommu_groups 2>/dev/null)" ] && [ ! -e /sys/bus/pci/devices/$A/iommu_group ]; then
  pass dom0-has-no-iommu-groups
else
  fail dom0-has-no-iommu-groups "$(ls /sys/kernel/iommu_groups | tr '\n' ' ')"
fi
# xen-pciback has no modalias: the e1000e were all probed, nothing loaded it.
if [ ! -e $PB ] && [ ! -e /sys/module/xen_pciback ]; then pass pciback-not-autoloaded; else fail pciback-not-autoloaded "pciback is loaded at boot"; fi
if scenario xl-setup xl_setup; then
  grep -q control_d /proc/xen/capabilities && pass dom0-is-control-domain || fail dom0-is-control-domain "$(cat /proc/xen/capabilities)"
  XL=yes
else
  XL=no
fi
stamp tools

# --- auto (driver_override on this kernel) round trip: A --------------------------
if run auto-detach 0 $N detach --driver xen --json "$(name $A)"; then
  [ -e /sys/module/xen_pciback ] && pass auto-loaded-xen-pciback || fail auto-loaded-xen-pciback "module not loaded"
  wrote auto-used-driver-override out/auto-detach.out "devices/$A/driver_override\|pciback\|null"
  wrote auto-no-new-id out/auto-detach.out "new_id" absent
  expect_driver auto-on-pciback $A pciback
  run auto-list-detached 0 $N list --detached && contains auto-record out/auto-list-detached.out "$(name $A)  e1000e -> pciback (override)"
  [ "$XL" = yes ] && expect_assignable auto-xl-lists-it $A
fi
if run auto-reattach 0 $N reattach --json "$(name $A)"; then
  expect_driver auto-back-on-e1000e $A e1000e
  no_override auto-no-override-left $A
  no_slot auto-no-slot-left $A
  no_record auto-no-record-left $A
fi
stamp auto

# --- The witness: the seed's failure on this kernel, by hand: C ------------------
# pciback's id table matches every device, so a plain new_id answers EEXIST.
printf '8086 10d3' | dd of=$PB/new_id 2> out/witness-new-id.err
if grep -q "File exists" out/witness-new-id.err; then pass witness-new-id-eexist; else fail witness-new-id-eexist "$(cat out/witness-new-id.err | tr '\n' ' ')"; fi
echo $C > /sys/bus/pci/drivers/e1000e/unbind
# Without a slot (or an override) pciback's probe refuses: ENODEV.
printf $C | dd of=$PB/bind 2> out/witness-bind-no-slot.err
if grep -q "No such device" out/witness-bind-no-slot.err; then pass witness-bind-needs-slot; else fail witness-bind-needs-slot "$(cat out/witness-bind-no-slot.err | tr '\n' ' ')"; fi
printf $C | dd of=$PB/new_slot 2> out/witness-new-slot.err && printf $C | dd of=$PB/bind 2> out/witness-bind.err
expect_driver witness-new-slot-and-bind $C pciback
printf $C | dd of=$PB/unbind 2>/dev/null
printf $C | dd of=$PB/remove_slot 2>/dev/null
no_slot witness-slot-removed $C
expect_driver witness-unbound $C ""
# C stays unbound: the unbound same-id bystander of the new-id scenarios.

# --- --method new-id: the seed's path (B; A a same-id twin on e1000e, C unbound) ---
# The plan of a dry run: pciback's id table matches everything, so the new_id will
# answer EEXIST and no remove_id may follow it.
if run new-id-dry-run 0 $N detach --driver xen --method new-id --dry-run "$(name $B)"; then
  contains new-id-dry-run-plans-new-slot out/new-id-dry-run.out "write '$B' to $PB/new_slot"
  # A remove_id in the plan must at least say it depends on the new_id adding the id.
  if grep remove_id out/new-id-dry-run.out | grep -qv EEXIST; then
    fail new-id-dry-run-no-remove-id "the plan has $(grep remove_id out/new-id-dry-run.out)"
  else
    pass new-id-dry-run-no-remove-id
  fi
  expect_driver new-id-dry-run-changes-nothing $B e1000e
fi
if run new-id-detach 0 $N detach --driver xen --method new-id --json "$(name $B)"; then
  wrote new-id-eexist-tolerated out/new-id-detach.out "pciback/new_id\|8086 10d3\|17$"
  wrote new-id-new-slot out/new-id-detach.out "pciback/new_slot\|$B\|null"
  wrote new-id-explicit-bind out/new-id-detach.out "pciback/bind\|$B\|null"
  wrote new-id-no-remove-id out/new-id-detach.out "remove_id" absent
  wrote new-id-no-override out/new-id-detach.out "driver_override" absent
  expect_driver new-id-on-pciback $B pciback
  has_slot new-id-slot-listed $B
  run new-id-list-detached 0 $N list --detached --json &&
    contains new-id-record-method out/new-id-list-detached.out '"method": "new-id"' &&
    contains new-id-record-slot out/new-id-list-detached.out '"slot_added": true' &&
    contains new-id-record-no-id out/new-id-list-detached.out '"dynamic_id": null'
  expect_driver new-id-twin-stays-on-e1000e $A e1000e
  expect_driver new-id-unbound-twin-untouched $C ""
  [ "$XL" = yes ] && expect_assignable new-id-xl-lists-it $B
fi
if run new-id-reattach 0 $N reattach --json "$(name $B)"; then
  wrote new-id-reattach-remove-slot out/new-id-reattach.out "pciback/remove_slot\|$B\|null"
  wrote new-id-reattach-no-remove-id out/new-id-reattach.out "remove_id" absent
  expect_driver new-id-back-on-e1000e $B e1000e
  no_slot new-id-no-slot-left $B
  no_override new-id-no-override-left $B
  no_record new-id-no-record-left $B
  expect_driver new-id-twin-still-on-e1000e $A e1000e
  expect_driver new-id-unbound-twin-still-unbound $C ""
fi
# The same with the twin in the same multifunction slot, both on e1000e: M0 goes,
# M1 stays.
if run new-id-mf-detach 0 $N detach --driver xen --method new-id --json "$(name $M0)"; then
  wrote new-id-mf-eexist-tolerated out/new-id-mf-detach.out "pciback/new_id\|8086 10d3\|17$"
  wrote new-id-mf-no-remove-id out/new-id-mf-detach.out "remove_id" absent
  expect_driver new-id-mf-on-pciback $M0 pciback
  expect_driver new-id-mf-twin-stays $M1 e1000e
fi
if run new-id-mf-reattach 0 $N reattach "$(name $M0)"; then
  expect_driver new-id-mf-back-on-e1000e $M0 e1000e
  no_slot new-id-mf-no-slot-left $M0
  expect_driver new-id-mf-twin-still-on-e1000e $M1 e1000e
fi
echo $C > /sys/bus/pci/drivers/e1000e/bind
stamp new-id

# --- A batch, and --group without IOMMU groups ------------------------------------
if run batch-detach 0 $N detach --driver xen "$(name $M0)" "$(name $M1)" "$(name $M2)"; then
  for b in $M0 $M1 $M2; do expect_driver "batch-on-pciback-$(tag $b)" $b pciback; done
  [ "$XL" = yes ] && expect_assignable batch-xl-lists-exactly-them $M0 $M1 $M2
fi
if run batch-reattach 0 $N reattach "$(name $M0)" "$(name $M1)" "$(name $M2)"; then
  for b in $M0 $M1 $M2; do expect_driver "batch-back-$(tag $b)" $b e1000e; no_slot "batch-no-slot-left-$(tag $b)" $b; done
  [ "$XL" = yes ] && expect_assignable batch-xl-lists-none
fi
# No iommu_group link in a PV dom0: the group of E is E alone. The bridge above it
# and the root port keep their drivers.
rp_driver=$(driver_of $RP) br_driver=$(driver_of $BR)
if run group-detach 0 $N detach --driver xen --group --json "$(name $E)"; then
  n=$(grep -c '"address":' out/group-detach.out)
  [ "$n" = 1 ] && pass group-is-the-device-alone || fail group-is-the-device-alone "$n devices moved"
  expect_driver group-on-pciback $E pciback
  expect_driver group-bridge-untouched $BR "$br_driver"
  expect_driver group-root-port-untouched $RP "$rp_driver"
fi
run group-reattach 0 $N reattach "$(name $E)" && expect_driver group-back-on-e1000 $E e1000
if run group-mf-detach 0 $N detach --driver xen --group "$(name $M1)"; then
  expect_driver group-mf-on-pciback $M1 pciback
  expect_driver group-mf-neighbour-0-stays $M0 e1000e
  expect_driver group-mf-neighbour-2-stays $M2 e1000e
fi
run group-mf-reattach 0 $N reattach "$(name $M1)" && expect_driver group-mf-back $M1 e1000e
stamp batch-group

# --- The libvirt hook: a Xen domain whose hostdevs say <driver name='xen'/> -------
cat > /tmp/xen-domain.xml <<'XML'
<domain type='xen'>
  <name>xen-vm</name>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <driver name='xen'/>
      <source><address domain='0x0000' bus='0x00' slot='0x04' function='0x0'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver name='xen'/>
      <source><address domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></source>
    </hostdev>
    <interface type='hostdev' managed='no'>
      <driver name='xen'/>
      <source><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x2'/></source>
    </interface>
  </devices>
</domain>
XML
if run hook-prepare 0 $N hook qemu xen-vm prepare begin - < /tmp/xen-domain.xml; then
  expect_driver hook-hostdev-on-pciback $C pciback
  expect_driver hook-interface-on-pciback $M2 pciback
  expect_driver hook-managed-untouched $A e1000e
  run hook-list-detached 0 $N list --detached --json && contains hook-record-owner out/hook-list-detached.out '"owner": "hook:xen-vm"'
  [ "$XL" = yes ] && expect_assignable hook-xl-lists-exactly-them $C $M2
fi
if run hook-release 0 $N hook qemu xen-vm release end - < /dev/null; then
  for b in $C $M2; do expect_driver "hook-released-$(tag $b)" $b e1000e; no_slot "hook-no-slot-left-$(tag $b)" $b; no_record "hook-no-record-left-$(tag $b)" $b; done
fi

# --- virsh mode: nodedev-detach --driver xen ----------------------------------------
ln -sf /tmp/nodedev /tmp/virsh
if run virsh-detach 0 /tmp/virsh nodedev-detach "$(name $C)" --driver xen; then
  printf 'Device %s detached\n\n' "$(name $C)" > /tmp/expected
  cmp -s /tmp/expected out/virsh-detach.out && pass virsh-detach-output || fail virsh-detach-output "$(cat out/virsh-detach.out)"
  expect_driver virsh-on-pciback $C pciback
fi
run virsh-reattach 0 /tmp/virsh -q nodedev-reattach "$(name $C)" && expect_driver virsh-back-on-e1000e $C e1000e
run virsh-subcommand-detach 0 $N virsh nodedev-detach --driver xen "$(name $C)" && expect_driver virsh-subcommand-on-pciback $C pciback
run virsh-subcommand-reattach 0 $N virsh nodedev-reattach "$(name $C)" && expect_driver virsh-subcommand-back $C e1000e
no_slot virsh-no-slot-left $C
stamp hook-virsh

# --- xl and nodedev on the same devices ----------------------------------------------
if [ "$XL" = yes ]; then
  # xl makes B assignable: libxl's new_slot + bind, the original driver kept in
  # xenstore (/libxl/pci/<BDF>/driver_path), and the device quarantined in Xen
  # (assigned to dom_io). nodedev has no record of it.
  if run xl-add 0 xl pci-assignable-add $B; then
    expect_driver xl-add-on-pciback $B pciback
    xenstore xenstore-read /libxl/pci/0000-00-03-0/driver_path > out/xl-driver-path.txt 2>&1
    contains xl-add-keeps-driver-path out/xl-driver-path.txt /sys/bus/pci/drivers/e1000e
    run xl-add-info 0 $N info --json "$(name $B)" && contains xl-add-info-says-pciback out/xl-add-info.out '"driver": "pciback"'
    run xl-add-list-detached 0 $N list --detached &&
      contains xl-add-list-detached-says-not-ours out/xl-add-list-detached.out "$(name $B)  (unknown) -> pciback (no record"
    run xl-add-detach-is-a-no-op 0 $N detach --driver xen --json "$(name $B)" &&
      contains xl-add-detach-unchanged out/xl-add-detach-is-a-no-op.out '"unchanged": true'
    no_record xl-add-detach-makes-no-record $B
    # xl's record must win: only xl can take the device out of Xen's quarantine.
    # nodedev has no record, so it must refuse and say who can give it back.
    faults_before=$(xl dmesg 2>/dev/null | grep -c "DMAR.*\[$B\] fault")
    if run xl-add-nodedev-reattach-refused 1 $N reattach "$(name $B)"; then
      expect_driver xl-add-refusal-leaves-it-on-pciback $B pciback
      contains xl-add-refusal-names-xl out/xl-add-nodedev-reattach-refused.err "xl pci-assignable-remove"
    else
      # It gave the device to e1000e: Xen still has it in quarantine, so its DMA
      # faults (VT-d: no context entry for dom0).
      ip link set "$(ls /sys/bus/pci/devices/$B/net)" up; sleep 2
      xl dmesg > out/xl-dmesg-after-nodedev-reattach.txt 2>&1
      faults=$(( $(grep -c "DMAR.*\[$B\] fault" out/xl-dmesg-after-nodedev-reattach.txt) - faults_before ))
      [ "$faults" -eq 0 ] && pass xl-add-nodedev-reattach-device-works ||
        fail xl-add-nodedev-reattach-device-works "e1000e took $B but Xen still quarantines it: $faults DMA faults, e.g. '$(grep "DMAR.*\[$B\] fault" out/xl-dmesg-after-nodedev-reattach.txt | tail -n 1)'"
      ip link set "$(ls /sys/bus/pci/devices/$B/net)" down
    fi
    # Given back the way it was taken: xl de-quarantines, unbinds, removes the slot
    # and rebinds the driver it recorded.
    run xl-give-back 0 xl pci-assignable-remove -r $B
    expect_driver xl-give-back-on-e1000e $B e1000e
    no_slot xl-give-back-no-slot-left $B
    xenstore xenstore-ls /libxl > out/xl-libxl-after.txt 2>&1
    if xenstore xenstore-read /libxl/pci/0000-00-03-0/driver_path > /dev/null 2>&1; then
      fail xl-give-back-no-driver-path-left "$(tr '\n' ' ' < out/xl-libxl-after.txt)"
    else
      pass xl-give-back-no-driver-path-left
    fi
    faults_before=$(xl dmesg 2>/dev/null | grep -c "DMAR.*\[$B\] fault")
    ip link set "$(ls /sys/bus/pci/devices/$B/net)" up; sleep 2
    faults=$(( $(xl dmesg 2>/dev/null | grep -c "DMAR.*\[$B\] fault") - faults_before ))
    [ "$faults" -eq 0 ] && pass xl-give-back-device-works || fail xl-give-back-device-works "$faults DMA faults"
    ip link set "$(ls /sys/bus/pci/devices/$B/net)" down
  fi
  # The other way round, nodedev's record wins: nodedev detaches M1 (not
  # quarantined: as libvirt, nodedev only binds pciback), xl lists it but cannot
  # give it back (it de-quarantines first, and fails), nodedev reattach can.
  if run xl-ours-detach 0 $N detach --driver xen --method new-id "$(name $M1)"; then
    run xl-cannot-remove-ours 1 xl pci-assignable-remove -r $M1
    contains xl-cannot-remove-ours-says-why out/xl-cannot-remove-ours.err "failed to de-quarantine"
    expect_driver xl-cannot-remove-ours-still-on-pciback $M1 pciback
    run xl-ours-nodedev-reattach 0 $N reattach "$(name $M1)" && expect_driver xl-ours-back-on-e1000e $M1 e1000e
    no_slot xl-ours-no-slot-left $M1
    no_record xl-ours-no-record-left $M1
  fi
  stamp xl
fi

# --- Refusals under Xen: nothing may change ----------------------------------------
run refuse-unknown-driver 1 $N detach --driver no-such-stub "$(name $A)"
expect_driver refuse-unknown-driver-unchanged $A e1000e
no_override refuse-unknown-driver-no-override $A
contains refuse-unknown-driver-says-why out/refuse-unknown-driver.err "Failed to load PCI driver module no_such_stub"
# Bridges: pciback takes header type 1 (pcistub_probe), so only the tool can refuse.
run refuse-root-port 1 $N detach --driver xen "$(name $RP)"
expect_driver refuse-root-port-unchanged $RP "$rp_driver"
run refuse-pci-bridge 1 $N detach --driver xen "$(name $BR)"
expect_driver refuse-pci-bridge-unchanged $BR "$br_driver"
# Put back what a missing refusal moved, so the end checks see the rest.
for b in $RP $BR; do [ "$(driver_of $b)" = pciback ] && $N reattach "$(name $b)" > /dev/null 2>&1; done
run refuse-mounted 1 $N detach --driver xen "$(name $SHARE)"
expect_driver refuse-mounted-unchanged $SHARE virtio-pci
contains refuse-mounted-says-mounted out/refuse-mounted.err mounted

# --- pciback registered before the host driver -------------------------------------
# As on a host that loads xen-pciback early (initramfs, hide=) and the NIC driver
# later: reload e1000e, so drivers_probe now asks pciback first.
rmmod e1000e && modprobe e1000e
sleep 1
stamp reload
# A slot pciback added for itself (driver_override seizure) and left behind makes
# any later re-probe pick pciback again: the reattach must bind e1000e explicitly.
if run late-detach 0 $N detach --driver xen "$(name $A)"; then
  run late-reattach 0 $N reattach "$(name $A)"
  expect_driver late-back-on-e1000e $A e1000e
  no_slot late-no-slot-left $A
fi
# A device on pciback that nodedev has no record of (xl's): whatever reattach does,
# a success must mean the device left pciback.
if [ "$XL" = yes ] && run late-xl-add 0 xl pci-assignable-add $C; then
  $N reattach "$(name $C)" > out/late-unrecorded-reattach.out 2> out/late-unrecorded-reattach.err
  rc=$? now=$(driver_of $C)
  if [ $rc -ne 0 ] || [ "$now" != pciback ]; then pass late-unrecorded-reattach-tells-the-truth
  else fail late-unrecorded-reattach-tells-the-truth "exit 0 ('$(head -n 1 out/late-unrecorded-reattach.out)') but $C is still on pciback"; fi
  [ "$now" = pciback ] && run late-xl-give-back 0 xl pci-assignable-remove -r $C
  expect_driver late-xl-given-back $C e1000e
fi
# Put back what the known bugs above leave, so the end checks see the rest.
for b in $A $C; do
  if [ "$(driver_of $b)" = pciback ]; then echo $b > $PB/unbind; echo $b > $PB/remove_slot; echo $b > /sys/bus/pci/drivers/e1000e/bind; fi
  [ -e /run/nodedev-shim/devices/$b.json ] && echo "$b: $(cat /run/nodedev-shim/devices/$b.json)" >> out/late-records.txt && rm -f /run/nodedev-shim/devices/$b.json
done
stamp late

# --- A persistent assignment to pciback (issue 14): the boot path's steps ----------
# This busybox dom0 has no udev and no systemd, so the steps the package's initramfs
# script, udev rule and units run are run here in their order: the early override
# before any driver, then the pass, which must load xen-pciback itself (it has no
# modalias: nothing else loads it). The reboot-level lane is persist-lane.sh.
CFG="--config-dir /run/persist-etc"
if run persist-detach 0 $N $CFG detach --persistent --driver xen "$(name $B)"; then
  expect_driver persist-on-pciback $B pciback
  contains persist-file-says-pciback /run/persist-etc/devices/$B.conf "driver=pciback"
fi
run persist-give-back-now 0 $N reattach "$(name $B)"
if rmmod xen_pciback 2> out/persist-rmmod.err && [ ! -e /sys/module/xen_pciback ]; then
  pass persist-pciback-unloaded
else
  fail persist-pciback-unloaded "$(cat out/persist-rmmod.err)"
fi
# As before any driver bound it: unbound, then the early step, then a probe.
echo $B > /sys/bus/pci/drivers/e1000e/unbind
run persist-early 0 $N $CFG boot --early
o=$(cat /sys/bus/pci/devices/$B/driver_override)
[ "$o" = pciback ] && pass persist-early-override || fail persist-early-override "driver_override is '$o'"
echo $B > /sys/bus/pci/drivers_probe
expect_driver persist-e1000e-kept-off $B ""
# An assignment made for another card (device 0x10d4) at C's address.
sed -e "s/$B/$C/" -e 's/^device=0x10d3$/device=0x10d4/' /run/persist-etc/devices/$B.conf > /run/persist-etc/devices/$C.conf
if run persist-boot 0 $N $CFG boot; then
  [ -e /sys/module/xen_pciback ] && pass persist-boot-loaded-xen-pciback || fail persist-boot-loaded-xen-pciback "xen-pciback not loaded"
  expect_driver persist-boot-on-pciback $B pciback
  contains persist-boot-says out/persist-boot.out "$B: on pciback (no driver had bound it)"
  contains persist-boot-warns-other-card out/persist-boot.err "$C: a different device is at this address (8086:10d3"
  [ "$XL" = yes ] && expect_assignable persist-xl-lists-it $B
fi
expect_driver persist-other-card-untouched $C e1000e
no_override persist-other-card-no-override $C
if run persist-reattach 0 $N $CFG reattach --persistent "$(name $B)"; then
  expect_driver persist-back-on-e1000e $B e1000e
  no_override persist-no-override-left $B
  no_slot persist-no-slot-left $B
  [ ! -e /run/persist-etc/devices/$B.conf ] && pass persist-forgotten || fail persist-forgotten "the file is still there"
fi
rm -rf /run/persist-etc
stamp persist

# --- Nothing left behind -----------------------------------------------------------------
[ -z "$(ls /run/nodedev-shim/devices 2>/dev/null)" ] && pass end-no-records || fail end-no-records "$(ls /run/nodedev-shim/devices | tr '\n' ' ')"
[ -z "$(slots)" ] && pass end-no-pciback-slots || fail end-no-pciback-slots "$(slots | tr '\n' ' ')"
for b in $A $B $C $M0 $M1 $M2; do expect_driver "end-on-e1000e-$(tag $b)" $b e1000e; done
expect_driver end-on-e1000-$(tag $E) $E e1000
cp $PB/slots out/pciback-slots-at-end.txt 2>/dev/null
dmesg > out/dmesg.txt
stamp end
