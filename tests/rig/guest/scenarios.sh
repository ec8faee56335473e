# Guest script: the real-kernel scenarios. Each check writes "PASS name" or
# "FAIL name: why" to out/results.txt (see lib.sh); the host prints them.
. ./lib.sh
# Run the binary from tmpfs, as from a disk: exec over 9p costs ~100 ms under TCG.
cp ./nodedev /tmp/nodedev
N="/tmp/nodedev --state-dir /run/nodedev-shim --unbind-timeout 20"
IOMMU=yes
[ -z "$(ls /sys/kernel/iommu_groups 2>/dev/null)" ] && IOMMU=no

# run NAME EXPECTED_RC CMD...: runs CMD, keeps stdout/stderr in out/NAME.{out,err}.
run() {
  run_name=$1 run_want=$2; shift 2
  "$@" > "out/$run_name.out" 2> "out/$run_name.err"
  run_rc=$?
  if [ "$run_rc" != "$run_want" ]; then
    fail "$run_name" "exit $run_rc, wanted $run_want: $(head -c 300 "out/$run_name.err" | tr '\n' ' ')"
    return 1
  fi
  return 0
}
expect_driver() { # NAME BDF DRIVER ("" for none)
  got=$(driver_of "$2")
  if [ "$got" = "$3" ]; then pass "$1"; else fail "$1" "$2 is on '${got}', wanted '$3'"; fi
}
expect_text() { # NAME FILE TEXT: the file holds exactly TEXT (compared byte for byte)
  printf '%s' "$3" > /tmp/expected
  if cmp -s /tmp/expected "$2"; then pass "$1"; else fail "$1" "$(basename "$2") has '$(head -c 200 "$2" | tr '\n' '|')', wanted '$(printf %s "$3" | tr '\n' '|')'"; fi
}
override_of() { cat "/sys/bus/pci/devices/$1/driver_override"; }

round_trip() { # TAG BDF STUB ORIGINAL [detach args...]
  tag=$1 bdf=$2 stub=$3 orig=$4; shift 4
  name=pci_$(echo "$bdf" | tr ':.' '__')
  if run "$tag-detach" 0 $N detach "$name" "$@"; then
    expect_text "$tag-detach-output" "out/$tag-detach.out" "Device $name detached

"
    expect_driver "$tag-on-$stub" "$bdf" "$stub"
  fi
  if run "$tag-reattach" 0 $N reattach "$name"; then
    expect_text "$tag-reattach-output" "out/$tag-reattach.out" "Device $name re-attached

"
    if [ "$orig" = "*" ]; then
      # Originally unbound: reattach re-probes (as libvirt does) and the kernel's
      # normal matching decides; the stub must be gone.
      got=$(driver_of "$bdf")
      [ "$got" != "$stub" ] && pass "$tag-released-from-$stub" || fail "$tag-released-from-$stub" "still on $got"
    else
      expect_driver "$tag-back-on-${orig:-nothing}" "$bdf" "$orig"
    fi
    [ -e "/sys/bus/pci/devices/$bdf/driver_override" ] &&
      expect_text "$tag-no-override-left" "/sys/bus/pci/devices/$bdf/driver_override" "(null)
"
  fi
}

if [ "$IOMMU" = yes ]; then
  echo 2 > /sys/bus/pci/devices/0000:02:00.0/sriov_numvfs
  echo 2 > /sys/bus/pci/devices/0000:03:00.0/sriov_numvfs
  sleep 1

  round_trip e1000e 0000:00:01.0 vfio-pci e1000e
  round_trip igb-vf 0000:02:10.0 vfio-pci igbvf
  # The emulated nvme's VFs usually fail the nvme probe (not onlined), so they
  # start unbound; after vfio-pci's reset the re-probe may succeed.
  round_trip nvme-vf 0000:03:00.1 vfio-pci "*"
  round_trip pci-stub 0000:00:05.1 pci-stub e1000e --driver pci-stub

  # new_id on a modern kernel: 00:05.2 shares 8086:10d3 and is unbound; the new
  # id must not leave it on vfio-pci, and no dynamic id may stay behind.
  echo 0000:00:05.2 > /sys/bus/pci/drivers/e1000e/unbind
  round_trip new-id 0000:00:05.0 vfio-pci e1000e --method new-id
  expect_driver new-id-bystander-untouched 0000:00:05.2 ""
  # remove_id answers ENODEV (and dd fails) unless the id is still registered.
  if printf '8086 10d3' | dd of=/sys/bus/pci/drivers/vfio-pci/remove_id 2>/dev/null; then
    fail new-id-no-id-left "8086 10d3 was still in vfio-pci's dynamic ids"
  else
    pass new-id-no-id-left
  fi
  echo 0000:00:05.2 > /sys/bus/pci/drivers_probe

  # --group on the pcie-pci-bridge group: both conventional e1000 move, the bridge stays.
  if run group-detach 0 $N detach --group pci_0000_09_01_0; then
    expect_driver group-member-1 0000:09:01.0 vfio-pci
    expect_driver group-member-2 0000:09:02.0 vfio-pci
    expect_driver group-bridge-untouched 0000:08:00.0 ""
  fi
  run group-reattach 0 $N reattach pci_0000_09_01_0 pci_0000_09_02_0 &&
    expect_driver group-back 0000:09:02.0 e1000

  # Refusals: nothing may change.
  run refuse-bridge 1 $N detach pci_0000_00_10_0 && expect_driver refuse-bridge-unchanged 0000:00:10.0 pcieport
  run refuse-pf-with-vfs 1 $N detach pci_0000_02_00_0 && expect_driver refuse-pf-unchanged 0000:02:00.0 igb
  run refuse-9p-share 1 $N detach pci_0000_00_02_0 && expect_driver refuse-9p-unchanged 0000:00:02.0 virtio-pci
  grep -q "mounted" out/refuse-9p-share.err && pass refuse-9p-says-mounted || fail refuse-9p-says-mounted "$(cat out/refuse-9p-share.err)"

  # Reattach while a process holds the VFIO group open.
  if run hold-detach 0 $N detach pci_0000_07_00_0; then
    grp=$(basename "$(readlink /sys/bus/pci/devices/0000:07:00.0/iommu_group)")
    sleep 300 < "/dev/vfio/$grp" &
    holder=$!
    sleep 1
    run refuse-held-group 1 $N reattach pci_0000_07_00_0 && expect_driver refuse-held-unchanged 0000:07:00.0 vfio-pci
    grep -q "pid $holder" out/refuse-held-group.err && pass refuse-held-names-pid || fail refuse-held-names-pid "$(cat out/refuse-held-group.err)"
    run refuse-reset-held 1 $N reset --force pci_0000_07_00_0
    grep -q "pid $holder" out/refuse-reset-held.err && pass refuse-reset-held-names-pid || fail refuse-reset-held-names-pid "$(cat out/refuse-reset-held.err)"
    kill $holder; wait $holder 2>/dev/null
    run hold-reattach 0 $N reattach pci_0000_07_00_0 && expect_driver hold-back 0000:07:00.0 e1000e
  fi

  # Reset with the kernel's methods (rig doc §3: e1000e on pcie.0 offers pm; igb
  # behind a root port flr pm bus; e1000e behind a root port pm bus, x-speed=5).
  run reset-pm 0 $N reset pci_0000_00_01_0 && expect_text reset-pm-output out/reset-pm.out "Device pci_0000_00_01_0 reset

"
  # The igb PF's list still says "flr pm bus", but with its VFs on the bus the bus
  # method is stale: writing the list back fails, so the kernel default comes back.
  run reset-flr 0 $N reset --method flr pci_0000_02_00_0 &&
    expect_text reset-flr-method-restored /sys/bus/pci/devices/0000:02:00.0/reset_method "flr pm
"
  run reset-bus 0 $N reset --method bus pci_0000_01_00_0 &&
    expect_text reset-bus-method-restored /sys/bus/pci/devices/0000:01:00.0/reset_method "pm bus
"
  run reset-unsupported-method 1 $N reset --method flr pci_0000_00_01_0 &&
    expect_text reset-unsupported-restored /sys/bus/pci/devices/0000:00:01.0/reset_method "pm
"
  run reset-bridge 1 $N reset pci_0000_00_10_0
  grep -q "Only PCI endpoint devices can be reset" out/reset-bridge.err && pass reset-bridge-says-why || fail reset-bridge-says-why "$(cat out/reset-bridge.err)"
  run reset-list 0 $N reset --list pci_0000_01_00_0 && { grep -q "pm bus" out/reset-list.out && pass reset-list-methods || fail reset-list-methods "$(cat out/reset-list.out)"; }
  expect_driver reset-keeps-driver 0000:01:00.0 e1000e

  # libvirt's config-space sequence (reset/config_space.rs). `grepped NAME FILE
  # TEXT` passes when FILE holds TEXT. `regs BDF` prints the command register and
  # BAR0, which a function reset clears and the 256-byte restore must bring back.
  grepped() { if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1" "$(head -c 300 "$2" | tr '\n' ' ')"; fi; }
  regs() { echo $(od -An -tx1 -j4 -N2 "/sys/bus/pci/devices/$1/config") $(od -An -tx1 -j16 -N4 "/sys/bus/pci/devices/$1/config"); }
  # PM D3hot->D0 through PMCSR on the e1000e on pcie.0 (No_Soft_Reset clear).
  before=$(regs 0000:00:01.0)
  run cs-pm 0 $N reset --config-space --json pci_0000_00_01_0 &&
    grepped cs-pm-method out/cs-pm.out '"method": "pm"'
  [ "$(regs 0000:00:01.0)" = "$before" ] && pass cs-pm-config-restored || fail cs-pm-config-restored "$before -> $(regs 0000:00:01.0)"
  expect_driver cs-pm-keeps-driver 0000:00:01.0 e1000e
  # FLR through DEVCTL on an igb VF (its DEVCAP advertises FLR).
  vf=0000:02:10.0
  before=$(regs $vf)
  run cs-flr 0 $N reset --config-space --method flr --json pci_0000_02_10_0 &&
    grepped cs-flr-method out/cs-flr.out '"method": "flr"'
  [ "$(regs $vf)" = "$before" ] && pass cs-flr-config-restored || fail cs-flr-config-restored "$before -> $(regs $vf)"
  # The igb PF has VFs: its SR-IOV state lives past the 256 bytes restored.
  run cs-pf-refused 1 $N reset --config-space pci_0000_02_00_0 &&
    grepped cs-pf-says-why out/cs-pf-refused.err "SR-IOV PF with 2 VFs enabled"
  # The second e1000 behind the pcie-pci-bridge has no kernel reset at all (the
  # kernel gave "bus" only to the first one probed); its neighbour is on e1000.
  [ ! -e /sys/bus/pci/devices/0000:09:02.0/reset ] && pass cs-no-reset-file || fail cs-no-reset-file "09:02.0 has a reset file"
  run cs-bus-list 0 $N reset --list pci_0000_09_02_0 && grepped cs-bus-list-offers out/cs-bus-list.out "config space:  bus"
  run cs-bus-refused 1 $N reset pci_0000_09_02_0 &&
    grepped cs-bus-refused-libvirt-words out/cs-bus-refused.err "Active 0000:09:01.0 devices on bus with 0000:09:02.0, not doing bus reset (0000:09:01.0 is on e1000"
  # With the neighbour on pci-stub the bus is ours: a secondary bus reset
  # through 08:00.0's bridge control, which ends as it began.
  bctl() { echo $(od -An -tx1 -j62 -N2 /sys/bus/pci/devices/0000:08:00.0/config); }
  bctl_before=$(bctl)
  before=$(regs 0000:09:02.0)
  if run cs-neighbour-detach 0 $N detach --driver pci-stub pci_0000_09_01_0; then
    # Witness that the restore checks can fail: a bus reset done by hand clears
    # both functions' command registers in this QEMU; the 256 saved bytes of each
    # then go back in one write, as the tool does.
    b=/sys/bus/pci/devices/0000:08:00.0/config c=/sys/bus/pci/devices/0000:09:02.0/config
    n=/sys/bus/pci/devices/0000:09:01.0/config
    neighbour=$(regs 0000:09:01.0)
    dd if=$c of=/tmp/saved bs=256 count=1 2>/dev/null
    dd if=$n of=/tmp/saved-n bs=256 count=1 2>/dev/null
    ctl=$(od -An -to1 -j62 -N1 $b | tr -d ' ')
    printf "\\$(printf %o $((0$ctl | 0100)))" | dd of=$b bs=1 seek=62 conv=notrunc 2>/dev/null; sleep 0.2
    printf "\\$ctl" | dd of=$b bs=1 seek=62 conv=notrunc 2>/dev/null; sleep 0.2
    cmd=$(od -An -tx1 -j4 -N2 $c | tr -d ' ')$(od -An -tx1 -j4 -N2 $n | tr -d ' ')
    [ "$cmd" = 00000000 ] && pass cs-witness-reset-clears-command || fail cs-witness-reset-clears-command "command registers are $cmd after a bus reset"
    dd if=/tmp/saved of=$c bs=256 count=1 conv=notrunc 2>/dev/null
    dd if=/tmp/saved-n of=$n bs=256 count=1 conv=notrunc 2>/dev/null
    [ "$(regs 0000:09:01.0)" = "$neighbour" ] || fail cs-witness-neighbour-restored "$neighbour -> $(regs 0000:09:01.0)"
    [ "$(regs 0000:09:02.0)" = "$before" ] && pass cs-witness-restored || fail cs-witness-restored "$before -> $(regs 0000:09:02.0)"
    run cs-bus 0 $N reset --json pci_0000_09_02_0 && grepped cs-bus-method out/cs-bus.out '"method": "bus"'
    [ "$(regs 0000:09:01.0)" = "$neighbour" ] && pass cs-bus-neighbour-restored || fail cs-bus-neighbour-restored "$neighbour -> $(regs 0000:09:01.0)"
    [ "$(regs 0000:09:02.0)" = "$before" ] && pass cs-bus-config-restored || fail cs-bus-config-restored "$before -> $(regs 0000:09:02.0)"
    [ "$(bctl)" = "$bctl_before" ] && pass cs-bus-bridge-control-released || fail cs-bus-bridge-control-released "$bctl_before -> $(bctl)"
    expect_driver cs-bus-keeps-driver 0000:09:02.0 e1000
    run cs-neighbour-back 0 $N reattach pci_0000_09_01_0 && expect_driver cs-neighbour-on-e1000 0000:09:01.0 e1000
  fi

  # The libvirt hook: a domain with an unmanaged e1000e, the pcie-pci-bridge
  # group through our metadata, an igb VF as a hostdev interface and a managed
  # hostdev that must stay untouched. prepare then release ends where it started.
  cat > /tmp/domain.xml <<'XML'
<domain type='kvm'>
  <name>rig-vm</name>
  <metadata>
    <shim:hostdevs xmlns:shim="https://nodedev-shim.dev/xmlns/hook/1">
      <shim:group address='0000:09:01.0'/>
    </shim:hostdevs>
  </metadata>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x07' slot='0x00' function='0x0'/></source>
    </hostdev>
    <interface type='hostdev' managed='no'>
      <driver name='vfio'/>
      <source><address type='pci' domain='0x0000' bus='0x02' slot='0x10' function='0x2'/></source>
    </interface>
  </devices>
</domain>
XML
  before=$(for b in 0000:01:00.0 0000:07:00.0 0000:02:10.2 0000:09:01.0 0000:09:02.0; do driver_of $b; done | tr '\n' ' ')
  if run hook-prepare 0 $N hook qemu rig-vm prepare begin - < /tmp/domain.xml; then
    [ ! -s out/hook-prepare.out ] && pass hook-prepare-silent-on-stdout || fail hook-prepare-silent-on-stdout "$(cat out/hook-prepare.out)"
    for b in 0000:01:00.0 0000:02:10.2 0000:09:01.0 0000:09:02.0; do expect_driver "hook-prepared-$b" $b vfio-pci; done
    expect_driver hook-managed-untouched 0000:07:00.0 e1000e
  fi
  run hook-started 0 $N hook qemu rig-vm started begin - < /dev/null
  run hook-release 0 $N hook qemu rig-vm release end shutdown < /dev/null
  after=$(for b in 0000:01:00.0 0000:07:00.0 0000:02:10.2 0000:09:01.0 0000:09:02.0; do driver_of $b; done | tr '\n' ' ')
  [ "$before" = "$after" ] && pass hook-round-trip || fail hook-round-trip "before '$before' after '$after'"
  printf '<domain><devices>' | $N hook qemu rig-vm prepare begin - > out/hook-bad.out 2> out/hook-bad.err
  [ $? -ne 0 ] && [ "$(wc -l < out/hook-bad.err)" -eq 1 ] && pass hook-malformed-one-line || fail hook-malformed-one-line "$(cat out/hook-bad.err)"
  # virsh mode, as a symlink.
  ln -sf /tmp/nodedev /tmp/virsh
  /tmp/virsh nodedev-detach pci_0000_00_05_2 > out/virsh-detach.out 2>&1 && expect_driver virsh-detach 0000:00:05.2 vfio-pci
  /tmp/virsh -q nodedev-reattach pci_0000_00_05_2 > out/virsh-reattach.out 2>&1 && expect_driver virsh-reattach 0000:00:05.2 e1000e

  # Four processes, each looping detach/reattach on its own device.
  for bdf in 0000:00:01.0 0000:00:05.0 0000:00:05.1 0000:01:00.0; do
    (
      name=pci_$(echo "$bdf" | tr ':.' '__')
      for i in 1 2 3; do
        $N -q detach "$name" 2>> out/concurrency.err || echo "detach $name failed" >> out/concurrency.err
        $N -q reattach "$name" 2>> out/concurrency.err || echo "reattach $name failed" >> out/concurrency.err
      done
    ) &
  done
  wait
  if [ -s out/concurrency.err ]; then fail concurrency "$(cat out/concurrency.err | tr '\n' ' ')"; else pass concurrency; fi
  for bdf in 0000:00:01.0 0000:00:05.0 0000:00:05.1 0000:01:00.0; do expect_driver "concurrency-end-$bdf" "$bdf" e1000e; done
  [ -z "$(ls /run/nodedev-shim/devices 2>/dev/null)" ] && pass no-records-left || fail no-records-left "$(ls /run/nodedev-shim/devices)"
else
  # Without an IOMMU vfio-pci cannot take the device: the kernel accepts the
  # writes, the probe fails, and the tool must say so and roll back.
  run no-iommu-detach 1 $N detach pci_0000_00_01_0
  expect_driver no-iommu-stays-on-e1000e 0000:00:01.0 e1000e
  grep -q "IOMMU" out/no-iommu-detach.err && pass no-iommu-says-why || fail no-iommu-says-why "$(cat out/no-iommu-detach.err)"
  expect_text no-iommu-no-override-left /sys/bus/pci/devices/0000:00:01.0/driver_override "(null)
"
  round_trip no-iommu-pci-stub 0000:00:01.0 pci-stub e1000e --driver pci-stub
fi

# Every document the tool prints; the host validates them with libvirt's schema.
/tmp/nodedev -q dumpxml --all > out/dumpxml-all.xml && pass dumpxml-all || fail dumpxml-all "exit $?"
