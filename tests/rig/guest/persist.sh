# Guest script of the persistence lane (persist-lane.sh): one QEMU run per
# PHASE, all on the same Debian root (systemd as PID 1, systemd-udevd, the
# initramfs its own initramfs-tools built), so /etc and the initramfs persist
# from one boot to the next. The package is installed with dpkg from the .deb
# beside this script: the boot path under test is the package's own files.
#
#   1  install the .deb (its initramfs trigger deferred, as apt defers them);
#      --id and interface names; detach --persistent 00:01.0 (vfio-pci,
#      --owner) and 00:05.1 (pci-stub); the trigger's update-initramfs puts the
#      rule, the binary and the assignments into the initramfs
#   2  both kept from e1000e since the initramfs (e1000e never probed them, it
#      did probe their sibling 00:05.0); the units' report in the journal; the
#      owner of /dev/vfio/N; the udev rule alone on a real add event (00:05.2
#      removed and rescanned, e1000e loaded by that event); then bad assignment
#      files are planted, and 01:00.0 assigned without rebuilding the initramfs
#   3  (another card model at 00:01.0 and 00:05.1) those two left on their own
#      driver with a warning in the journal and the kernel log; the bad files
#      named and their devices untouched; 01:00.0 taken back from e1000e, which
#      had bound it in the initramfs
#   4  all three on their stubs again; reattach --persistent 00:01.0 and 01:00.0;
#      persist remove 00:05.1 (left on pci-stub now); no update-initramfs, so
#      the initramfs still keeps 00:01.0 and 00:05.1
#   5  01:00.0 on e1000e from the start; 00:01.0 and 00:05.1 kept by the
#      out-of-date initramfs and given back to e1000e by the unit; purge the
#      package (its trigger rebuilds the initramfs without it)
#
# Lines "PASS persist/…" / "FAIL persist/…: why" in out/results.txt.
. ./lib.sh
PHASE=${PHASE:?}
P=persist/boot$PHASE
N=/usr/bin/nodedev
KVER=$(uname -r)
INITRD=/boot/initrd.img-$KVER
mkdir -p /mnt/host/out/logs
L=/mnt/host/out/logs/boot$PHASE
mkdir -p "$L"
dmesg > "$L/dmesg.txt"
journalctl -b --no-pager -o short-monotonic > "$L/journal.txt" 2>&1

# check NAME 'CODE' (shell code, evaluated here with this script's functions
# and variables) or check NAME CMD ARG…: PASS when it succeeds, else FAIL with
# its last output line.
check() {
  c_name=$1; shift
  if [ $# -eq 1 ]; then out=$(eval "$1" 2>&1); else out=$("$@" 2>&1); fi
  if [ $? -eq 0 ]; then pass "$P/$c_name"
  else fail "$P/$c_name" "$(echo "$out" | tail -n 1 | head -c 300)"; fi
}
# is VALUE EXPECTED: for check.
is() { [ "$1" = "$2" ] || { echo "got '$1', expected '$2'"; return 1; }; }
driver() { driver_of "$1"; }
override() { cat "/sys/bus/pci/devices/$1/driver_override" 2>/dev/null; }
# never_probed BDF: e1000e printed nothing about the device since boot.
never_probed() { ! grep -q "e1000e $1" "$L/dmesg.txt" || { grep "e1000e $1" "$L/dmesg.txt" | head -n 1; return 1; }; }
probed() { grep -q "e1000e $1" "$L/dmesg.txt" || { echo "no e1000e line for $1 in dmesg"; return 1; }; }
unit_says() { # UNIT TEXT: the unit's journal of this boot has TEXT
  journalctl -b --no-pager -u "$1" > "$L/$1.txt" 2>&1
  grep -qF -- "$2" "$L/$1.txt" || { echo "not in $1's journal: $2 ($(tail -n 2 "$L/$1.txt" | tr '\n' ' '))"; return 1; }
}
# list_initramfs, then in_initramfs PATH… (each may be usr-merged or not) or
# not_in_initramfs PATH.
list_initramfs() { lsinitramfs "$INITRD" > "$L/initramfs.txt" 2>&1; }
in_initramfs() {
  for f; do grep -qx -e "$f" -e "${f#usr/}" "$L/initramfs.txt" || { echo "$f not in $INITRD"; return 1; }; done
}
not_in_initramfs() { ! grep -qx "$1" "$L/initramfs.txt" || { echo "$1 still in $INITRD"; return 1; }; }
conf() { echo "/etc/nodedev-shim/devices/$1.conf"; }
group_node() { echo "/dev/vfio/$(basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")")"; }
# The state of every PCI function: a nothing-written witness.
pci_state() { ls -l /sys/bus/pci/devices/*/driver 2>/dev/null | awk '{print $9, $11}'; grep -H . /sys/bus/pci/devices/*/driver_override; }

case $PHASE in
1)
  # Triggers deferred, as apt does, and processed once the assignments exist:
  # one initramfs build instead of two (each takes about 90 s under TCG).
  check dpkg-install 'dpkg -i --no-triggers ./nodedev-shim_*.deb > '"$L"'/dpkg-install.txt 2>&1'
  check package-files 'dpkg -L nodedev-shim > '"$L"'/files.txt &&
    for f in /usr/bin/nodedev /lib/udev/rules.d/60-nodedev-shim.rules \
      /usr/lib/systemd/system/nodedev-shim.service /usr/lib/systemd/system/nodedev-shim-early.service \
      /usr/share/initramfs-tools/hooks/nodedev-shim /usr/share/initramfs-tools/scripts/init-top/nodedev-shim \
      /usr/share/initramfs-tools/scripts/init-bottom/nodedev-shim /usr/share/man/man1/nodedev-detach.1.gz \
      /usr/share/man/man1/nodedev-persist-remove.1.gz /usr/share/bash-completion/completions/nodedev \
      /usr/share/zsh/vendor-completions/_nodedev /usr/share/fish/vendor_completions.d/nodedev.fish \
      /usr/share/doc/nodedev-shim/persistence.md; do
      grep -qx "$f" '"$L"'/files.txt || { echo "not in the package: $f"; exit 1; }; [ -e "$f" ] || { echo "missing: $f"; exit 1; }; done'
  check units-enabled 'is "$(systemctl is-enabled nodedev-shim.service nodedev-shim-early.service | tr "\n" " ")" "enabled enabled "'
  check hook-not-installed '[ ! -e /etc/libvirt/hooks/qemu.d/nodedev-shim ]'
  check man-page-has-persistent 'zcat /usr/share/man/man1/nodedev-detach.1.gz | grep -q "persistent"'
  # Boot 1 has no assignment yet: e1000e took both in the initramfs.
  check before-e1000e-probed-01.0 probed 0000:00:01.0
  check before-on-e1000e 'is "$(driver 0000:00:01.0) $(driver 0000:00:05.1)" "e1000e e1000e"'

  # --id: exactly the functions with those ids.
  want=$(for d in /sys/bus/pci/devices/*; do
    [ "$(cat "$d/vendor") $(cat "$d/device")" = "0x8086 0x10d3" ] && echo "Would detach pci_$(basename "$d" | tr ':.' '__'):"; done)
  $N detach --dry-run --id 8086:10d3 > "$L/id-dry-run.txt" 2>&1
  check id-selects-exactly 'is "$(grep "^Would detach" $L/id-dry-run.txt)" "$want"'
  check id-selects-six 'is "$(grep -c "^Would detach" '"$L"'/id-dry-run.txt)" 6'
  before=$(pci_state)
  $N detach --id 8086:ffff > "$L/id-unknown.out" 2> "$L/id-unknown.err"; rc=$?
  check id-unknown-virsh-error 'is "'$rc' $(cat '"$L"'/id-unknown.err)" "1 error: Could not find matching device '"'8086:ffff'"'
error: Node device not found: no PCI function with ids 8086:ffff"'
  $N detach --id 8086 0000:00:05.2 > "$L/id-bad.out" 2> "$L/id-bad.err"; rc=$?
  check id-malformed-error 'is "'$rc'" 1 && grep -q "expected VVVV:DDDD or VVVV:DDDD:SVVV:SDDD" '"$L"'/id-bad.err'
  check id-errors-wrote-nothing 'is "$(pci_state)" "$before"'
  # Interface names: udev's name for 00:05.0; lo and a bridge refused.
  ifname=$(ls /sys/bus/pci/devices/0000:00:05.0/net/)
  check interface-names-its-function "$N detach --dry-run $ifname | grep -qx 'Would detach pci_0000_00_05_0:'"
  $N detach lo > /dev/null 2> "$L/lo.err"; rc=$?
  check interface-lo-refused 'is "'$rc' $(cat '"$L"'/lo.err)" "1 error: Failed to detach device lo
error: invalid argument: interface lo is not backed by a PCI device (the loopback interface): name the PCI device it runs on instead"'
  ip link add rigbr0 type bridge
  $N detach rigbr0 > /dev/null 2> "$L/br.err"; rc=$?
  check interface-bridge-refused 'is "'$rc'" 1 && grep -q "interface rigbr0 is not backed by a PCI device (a bridge)" '"$L"'/br.err'
  ip link del rigbr0
  check interface-errors-wrote-nothing 'is "$(pci_state)" "$before"'

  # Persistent assignments.
  check detach-persistent-vfio $N detach --persistent --owner rigqemu:kvm 0000:00:01.0
  check detach-persistent-pci-stub $N detach --persistent --driver pci-stub pci_0000_00_05_1
  check now-on-stubs 'is "$(driver 0000:00:01.0) $(driver 0000:00:05.1)" "vfio-pci pci-stub"'
  check owner-given 'is "$(stat -c %U:%G "$(group_node 0000:00:01.0)")" rigqemu:kvm'
  check file-mode-0644 'is "$(stat -c %a '"$(conf 0000:00:01.0)"')" 644'
  check file-contents 'is "$(grep -v "^#" '"$(conf 0000:00:01.0)"')" "address=0000:00:01.0
driver=vfio-pci
owner=rigqemu:kvm
vendor=0x8086
device=0x10d3
subsystem_vendor=0x8086
subsystem_device=0x0000"'
  check persist-list "$N persist list > $L/list.txt && grep -q '^pci_0000_00_05_1  pci-stub  8086:10d3' $L/list.txt"
  # The install's initramfs-tools trigger, deferred until now.
  check install-trigger-pending 'dpkg --audit | grep -q initramfs-tools'
  check install-triggers-processed "dpkg --triggers-only --pending > $L/dpkg-triggers.txt 2>&1 &&
    grep -q 'Processing triggers for initramfs-tools' $L/dpkg-triggers.txt"
  check dpkg-audit-clean '[ -z "$(dpkg --audit)" ] || dpkg --audit'
  list_initramfs
  check initramfs-has-boot-path in_initramfs usr/bin/nodedev usr/lib/udev/rules.d/60-nodedev-shim.rules \
    scripts/init-top/nodedev-shim scripts/init-bottom/nodedev-shim \
    etc/nodedev-shim/devices/0000:00:01.0.conf etc/nodedev-shim/devices/0000:00:05.1.conf
  # The early step runs before udev's coldplug in the initramfs.
  check initramfs-early-before-udev "zstdcat $INITRD | cpio -i --quiet --to-stdout scripts/init-top/ORDER > $L/init-top-ORDER &&
    awk '/init-top\/nodedev-shim/{n=NR} /init-top\/udev/{u=NR} END{exit !(n && u && n < u)}' $L/init-top-ORDER"
  ;;
2)
  check kept-on-stubs 'is "$(driver 0000:00:01.0) $(driver 0000:00:05.1)" "vfio-pci pci-stub"'
  check e1000e-never-probed-01.0 never_probed 0000:00:01.0
  check e1000e-never-probed-05.1 never_probed 0000:00:05.1
  # The witness that the check above can fail: e1000e did probe the sibling.
  check e1000e-probed-sibling-05.0 probed 0000:00:05.0
  check early-unit-saw-override unit_says nodedev-shim-early.service "0000:00:01.0: driver_override already names vfio-pci"
  check unit-bound-vfio unit_says nodedev-shim.service "0000:00:01.0: on vfio-pci (no driver had bound it)"
  check unit-bound-pci-stub unit_says nodedev-shim.service "0000:00:05.1: on pci-stub (no driver had bound it)"
  check unit-gave-owner unit_says nodedev-shim.service "given to rigqemu:kvm"
  check unit-active 'is "$(systemctl is-active nodedev-shim.service)" active'
  check unit-before-basic 'systemctl show -p Before nodedev-shim.service | grep -q basic.target'
  check owner-at-boot 'is "$(stat -c %U:%G "$(group_node 0000:00:01.0)")" rigqemu:kvm'
  # The udev rule on its own, with a real add event: 00:05.2 assigned (detached
  # and reattached without --persistent: the file stays), e1000e unloaded, the
  # function removed and rescanned. Its add event loads e1000e (80-drivers.rules),
  # which binds every unbound e1000e at once, but not 00:05.2: the rule named
  # vfio-pci in its driver_override first.
  check hotplug-setup '$N detach --persistent 0000:00:05.2 && $N reattach 0000:00:05.2 &&
    [ -f $(conf 0000:00:05.2) ] && modprobe -r e1000e && [ ! -d /sys/module/e1000e ]'
  dmesg -c > /dev/null
  echo 1 > /sys/bus/pci/devices/0000:00:05.2/remove
  echo 1 > /sys/bus/pci/rescan
  udevadm settle --timeout=60
  dmesg > "$L/dmesg-hotplug.txt"
  check hotplug-rule-kept-it 'is "$(driver 0000:00:05.2)|$(override 0000:00:05.2)" "|vfio-pci"'
  check hotplug-e1000e-never-probed-05.2 '! grep "e1000e 0000:00:05.2" $L/dmesg-hotplug.txt'
  check hotplug-e1000e-loaded-by-the-event 'grep -q "e1000e 0000:00:05.0" $L/dmesg-hotplug.txt'
  check hotplug-udev-property 'udevadm info /sys/bus/pci/devices/0000:00:05.2 | grep -q "E: NODEDEV_SHIM_DRIVER=vfio-pci"'
  check hotplug-cleanup '$N persist remove 0000:00:05.2 && echo > /sys/bus/pci/devices/0000:00:05.2/driver_override &&
    echo 0000:00:05.2 > /sys/bus/pci/drivers_probe && is "$(driver 0000:00:05.2)" e1000e'
  check initramfs-copy-in-run '[ -f /run/nodedev-shim.initramfs/devices/0000:00:05.1.conf ]'
  check records-for-reattach "$N list --detached > $L/detached.txt && grep -q '^pci_0000_00_01_0' $L/detached.txt && grep -q '^pci_0000_00_05_1' $L/detached.txt"
  # Bad files for the next boot, each for a device that must stay as it is.
  d=/etc/nodedev-shim/devices
  head -c 60 "$(conf 0000:00:01.0)" | sed 's/0000:00:01.0/0000:00:06.0/' > "$d/0000:00:06.0.conf"
  sed -e 's/0000:00:01.0/0000:00:07.0/' -e 's/^owner=/colour=/' "$(conf 0000:00:01.0)" > "$d/0000:00:07.0.conf"
  sed -e 's/0000:00:01.0/0000:00:05.2/' -e 's|^driver=.*|driver=../../sbin/vfio-pci|' "$(conf 0000:00:01.0)" > "$d/0000:00:05.2.conf"
  ln -s 0000:00:01.0.conf "$d/0000:00:05.0.conf"
  # Assigned now, not in the initramfs (no update-initramfs): e1000e takes it
  # there at the next boot, and the unit must take it back.
  check detach-persistent-01:00.0 $N detach --persistent 0000:01:00.0
  ;;
3)
  check other-cards-present 'is "$(cat /sys/bus/pci/devices/0000:00:01.0/device) $(cat /sys/bus/pci/devices/0000:00:05.1/device)" "0x100e 0x100e"'
  check other-cards-on-their-driver 'is "$(driver 0000:00:01.0) $(driver 0000:00:05.1)" "e1000 e1000"'
  check other-cards-no-override 'is "$(override 0000:00:01.0) $(override 0000:00:05.1)" "(null) (null)"'
  check journal-warns-01.0 unit_says nodedev-shim.service "warning: 0000:00:01.0: a different device is at this address (8086:100e"
  check journal-warns-05.1 unit_says nodedev-shim.service "warning: 0000:00:05.1: a different device is at this address (8086:100e"
  check journal-warning-priority 'journalctl -b --no-pager -p warning -u nodedev-shim.service | grep -q "0000:00:01.0: a different device"'
  check kernel-log-warns "grep -q 'nodedev-shim: 0000:00:01.0: a different device is at this address' $L/dmesg.txt"
  check assignments-kept '[ -f '"$(conf 0000:00:01.0)"' ] && [ -f '"$(conf 0000:00:05.1)"' ]'
  check bad-truncated-named unit_says nodedev-shim.service "persistent assignment /etc/nodedev-shim/devices/0000:00:06.0.conf is unusable"
  check bad-unknown-key-named unit_says nodedev-shim.service "0000:00:07.0.conf is unusable: line 4: unknown key 'colour'"
  check bad-slash-named unit_says nodedev-shim.service "0000:00:05.2.conf is unusable: driver: driver name '../../sbin/vfio-pci' contains '/'"
  check bad-symlink-named unit_says nodedev-shim.service "0000:00:05.0.conf is unusable: it is a symbolic link"
  check bad-files-untouched 'is "$(driver 0000:00:06.0)|$(driver 0000:00:07.0)|$(driver 0000:00:05.2)|$(driver 0000:00:05.0)|$(override 0000:00:06.0)$(override 0000:00:07.0)$(override 0000:00:05.2)$(override 0000:00:05.0)" "||e1000e|e1000e|(null)(null)(null)(null)"'
  check unit-failed-for-bad-files 'is "$(systemctl is-failed nodedev-shim.service)" failed'
  check e1000e-took-01:00.0-in-the-initramfs probed 0000:01:00.0
  check repaired-01:00.0 'is "$(driver 0000:01:00.0)" vfio-pci'
  check unit-moved-01:00.0 unit_says nodedev-shim.service "0000:01:00.0: on vfio-pci (moved from e1000e, which had bound it first)"
  rm -f /etc/nodedev-shim/devices/0000:00:06.0.conf /etc/nodedev-shim/devices/0000:00:07.0.conf \
    /etc/nodedev-shim/devices/0000:00:05.2.conf /etc/nodedev-shim/devices/0000:00:05.0.conf
  ;;
4)
  check back-on-stubs 'is "$(driver 0000:00:01.0) $(driver 0000:00:05.1) $(driver 0000:01:00.0)" "vfio-pci pci-stub vfio-pci"'
  check again-never-probed-01.0 never_probed 0000:00:01.0
  check reattach-persistent $N reattach --persistent 0000:00:01.0 pci_0000_01_00_0
  check reattached-now 'is "$(driver 0000:00:01.0) $(driver 0000:01:00.0) $(override 0000:00:01.0)" "e1000e e1000e (null)"'
  check forgotten '[ ! -e '"$(conf 0000:00:01.0)"' ] && [ ! -e '"$(conf 0000:01:00.0)"' ]'
  # No update-initramfs: the initramfs still keeps 00:01.0 and 00:05.1.
  check persist-remove $N persist remove 0000:00:05.1
  check persist-remove-left-device 'is "$(driver 0000:00:05.1)" pci-stub && [ ! -e '"$(conf 0000:00:05.1)"' ]'
  ;;
5)
  # The out-of-date initramfs kept 00:01.0 and 00:05.1 (no e1000e line for
  # them); the unit gave both back. 01:00.0 was never in it: e1000e from the start.
  check stale-01.0-given-back unit_says nodedev-shim.service "warning: 0000:00:01.0: the initramfs still assigns it to vfio-pci, /etc/nodedev-shim no longer does: given back (now on e1000e); run update-initramfs -u"
  check stale-05.1-given-back unit_says nodedev-shim.service "warning: 0000:00:05.1: the initramfs still assigns it to pci-stub, /etc/nodedev-shim no longer does: given back (now on e1000e); run update-initramfs -u"
  check back-on-e1000e 'is "$(driver 0000:00:01.0) $(driver 0000:00:05.1) $(driver 0000:01:00.0)" "e1000e e1000e e1000e"'
  check no-overrides-left 'is "$(override 0000:00:01.0) $(override 0000:00:05.1)" "(null) (null)"'
  check e1000e-probed-01:00.0-from-the-start probed 0000:01:00.0
  check no-assignments 'is "$($N persist list 2>&1)" ""'
  check no-records 'is "$($N list --detached 2>&1)" ""'
  check dpkg-purge "dpkg --purge nodedev-shim > $L/dpkg-purge.txt 2>&1"
  check purged-files '[ ! -e /usr/bin/nodedev ] && [ ! -e /lib/udev/rules.d/60-nodedev-shim.rules ] && [ ! -e /etc/nodedev-shim ] &&
    [ ! -e /etc/systemd/system/sysinit.target.wants/nodedev-shim.service ] && [ ! -e /usr/share/initramfs-tools/hooks/nodedev-shim ]'
  check purged-status '! dpkg -s nodedev-shim > /dev/null 2>&1'
  list_initramfs
  check initramfs-without-package not_in_initramfs scripts/init-top/nodedev-shim
  check dpkg-audit-clean-after-purge '[ -z "$(dpkg --audit)" ] || dpkg --audit'
  ;;
esac
exit 0
