# Guest script: real libvirt as the oracle. Debian bookworm's libvirtd 9.0 (node
# devices + QEMU driver) and systemd-udevd run from the libvirt root (9p tag lvroot,
# an overlayfs lower layer under a tmpfs, chrooted, the guest's /sys /dev /proc /run
# bound in), against this kernel and these devices; every answer of `nodedev` is
# compared with libvirt's, byte for byte.
#
# One line per item in out/results.txt: "PASS oracle/…", "FAIL oracle/…: why" (the
# diff in out/diffs/), or "KNOWN-DIFF oracle/…: why" for a difference listed in
# oracle-pending.txt (named and counted, never hidden). Ends with
# "oracle: N matched, M differed, K known differences" in out/oracle-summary.txt.
. ./lib.sh
mkdir -p out/o
cp ./nodedev /tmp/nodedev
N="/tmp/nodedev --state-dir /run/nodedev-shim --unbind-timeout 20"
LV=/lv/m
export LC_ALL=C

# ---- set-up -----------------------------------------------------------------
t0=$(cut -d' ' -f1 /proc/uptime)
stamp() { echo "oracle-time $1 $(cut -d' ' -f1 /proc/uptime)" >> out/oracle-times.txt; }
stamp begin
# The PCI functions as the kernel enumerated them (the host checks that the
# addresses of the base topology did not move: ../topology-base.txt).
for p in /sys/bus/pci/devices/*; do
  echo "$(basename "$p") $(cat "$p/vendor") $(cat "$p/device") $(cat "$p/class")"
done > out/pci-ids.txt
mkdir -p /lv/lower /lv/up /lv/m
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro lvroot /lv/lower ||
  { fail oracle/setup "cannot mount the 9p share lvroot (RIG_LVROOT unset?)"; exit 1; }
mount -t tmpfs tmpfs /lv/up && mkdir -p /lv/up/u /lv/up/w
mount -t overlay overlay -o lowerdir=/lv/lower,upperdir=/lv/up/u,workdir=/lv/up/w $LV ||
  { fail oracle/setup "overlayfs mount failed"; exit 1; }
for d in proc sys dev run; do mount --rbind /$d $LV/$d; done
# One pci.ids for both tools: the root's (Debian's pci.ids package).
mkdir -p /usr/share/misc && ln -sf $LV/usr/share/misc/pci.ids /usr/share/misc/pci.ids
mount -t tmpfs tmpfs $LV/tmp
# In the chroot: systemd's tools refuse to act in a chroot unless told otherwise;
# LIBVIRT_DRIVER_DIR limits libvirtd to the node-device and QEMU drivers.
inlv() { SYSTEMD_IGNORE_CHROOT=1 LIBVIRT_DRIVER_DIR=/oracle/drivers-guest \
  PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot $LV "$@"; }
V() { inlv /usr/bin/virsh "$@"; }
# udevd as on a real host: coldplug, module autoloading by modalias, the database
# (ID_* properties, devlinks) libvirt reads, interface renaming.
inlv /lib/systemd/systemd-udevd --daemon 2>> out/o/udevd.log
inlv /bin/udevadm trigger --type=subsystems --action=add
inlv /bin/udevadm trigger --type=devices --action=add
inlv /bin/udevadm settle --timeout=180 || echo "settle timed out" >> out/o/udevd.log
# scsi_debug: a SCSI host with a disk that no controller emulates.
inlv /sbin/modprobe scsi_debug 2>> out/o/udevd.log
inlv /bin/udevadm settle --timeout=60
stamp udev-settled
inlv /usr/sbin/libvirtd -d
i=0
while [ ! -S /run/libvirt/libvirt-sock ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
V nodedev-list --cap system > out/o/virsh-ready.txt 2>&1 ||
  { fail oracle/setup "libvirtd did not answer: $(tail -n 3 /run/libvirtd.log 2>/dev/null | tr '\n' ' ')"; exit 1; }
stamp libvirtd-up

# links_up: links up, so that libvirt reads speeds (only an "up" link has one):
# every interface but the multifunction slot's, which stays down for the other state.
links_up() {
  for i in /sys/class/net/*; do
    case "$(basename "$(readlink "$i/device" 2>/dev/null)")" in 0000:00:05.*) continue;; esac
    ip link set "$(basename "$i")" up 2>> out/o/ip.log
  done
  sleep 3
}
# without_udev: what a host with no udevd (a container, a minimal host) looks
# like: udevd stops and its database is hidden from both tools (a tmpfs over
# /run/udev, in the guest and in the chroot), and libvirtd starts again to
# enumerate without it. Fails (status 1) when libvirtd does not answer.
without_udev() {
  inlv /bin/udevadm control --exit 2>/dev/null
  mount -t tmpfs tmpfs /run/udev && mount -t tmpfs tmpfs $LV/run/udev
  if [ -e /run/udev/data ] || [ -e $LV/run/udev/data ]; then
    echo "the udev database is still visible"; return 1
  fi
  kill "$(cat /run/libvirtd.pid)" 2>/dev/null
  wu_i=0
  while [ -S /run/libvirt/libvirt-sock ] && [ $wu_i -lt 150 ]; do sleep 0.2; wu_i=$((wu_i + 1)); done
  inlv /usr/sbin/libvirtd -d
  wu_i=0
  while [ ! -S /run/libvirt/libvirt-sock ] && [ $wu_i -lt 300 ]; do sleep 0.2; wu_i=$((wu_i + 1)); done
  V nodedev-list --cap system > out/o/virsh-ready.txt 2>&1 ||
    { echo "libvirtd did not answer again: $(tail -n 3 /run/libvirtd.log 2>/dev/null | tr '\n' ' ')"; return 1; }
}
# For a script of your own (docs/testing.md, guest/capture-classes.sh): set-up
# only; V, $N, links_up and without_udev ready.
[ -n "${ORACLE_ONLY_SETUP:-}" ] && return 0

. ./oracle-lib.sh

links_up

oracle_inventory
stamp devices

# ---- after our own detach/reattach/reset: libvirt sees what we see ------------
# after NAME BDF: libvirt's XML of the device (its driver) equals ours, and so do
# both tools' reading of the driver.
after() {
  a_name=$1 a_bdf=$2 a_dev=pci_$(echo "$2" | tr ':.' '__')
  V nodedev-dumpxml "$a_dev" > out/o/lv.xml 2>&1
  $N dumpxml "$a_dev" > out/o/nd.xml 2>&1
  verdict "after-ours/$a_name" out/o/lv.xml out/o/nd.xml
}
$N detach pci_0000_00_01_0 > out/o/ours.log 2>&1; after detach-vfio 0000:00:01.0
$N reset pci_0000_00_01_0 >> out/o/ours.log 2>&1; after reset-on-vfio 0000:00:01.0
$N reattach pci_0000_00_01_0 >> out/o/ours.log 2>&1; after reattach 0000:00:01.0
$N detach --driver pci-stub pci_0000_00_05_1 >> out/o/ours.log 2>&1; after detach-pci-stub 0000:00:05.1
$N reattach pci_0000_00_05_1 >> out/o/ours.log 2>&1; after reattach-from-pci-stub 0000:00:05.1
$N reset pci_0000_01_00_0 >> out/o/ours.log 2>&1; after reset-bound 0000:01:00.0
echo 2 > /sys/bus/pci/devices/0000:02:00.0/sriov_numvfs; sleep 1
inlv /bin/udevadm settle --timeout=60
after sriov-pf 0000:02:00.0
after sriov-vf 0000:02:10.0
$N detach pci_0000_02_10_0 >> out/o/ours.log 2>&1; after detach-vf 0000:02:10.0
$N reattach pci_0000_02_10_0 >> out/o/ours.log 2>&1; after reattach-vf 0000:02:10.0
stamp after-ours

# ---- the same operations through real libvirt and through `nodedev virsh` -----
# op NAME BDF SETUP ARGS…: runs `virsh ARGS`, then `nodedev virsh ARGS`, each on the
# device as it was (each tool first runs its own SETUP, a virsh command line, when
# not empty; afterwards the tool's own reattach and, if needed, sysfs writes put the
# device back), and compares stdout, stderr, both interleaved as a terminal shows
# them (2>&1, a second run), the exit code, and the final driver and driver_override.
lvrun() { V "$@"; }
ndrun() { $N virsh "$@"; }
restore() { # TOOL BDF DRIVER: back to how it was, whatever the operation left
  r_tool=$1 r_bdf=$2 r_drv=$3
  [ "$(driver_of "$r_bdf")" = "$r_drv" ] && [ "$(ovr "$r_bdf")" = "(null)" ] && return 0
  ${r_tool}run nodedev-reattach "pci_$(echo "$r_bdf" | tr ':.' '__')" > /dev/null 2>&1
  [ "$(ovr "$r_bdf")" = "(null)" ] || echo > "/sys/bus/pci/devices/$r_bdf/driver_override"
  if [ "$(driver_of "$r_bdf")" != "$r_drv" ]; then
    [ -n "$(driver_of "$r_bdf")" ] && echo "$r_bdf" > "/sys/bus/pci/devices/$r_bdf/driver/unbind"
    if [ -n "$r_drv" ]; then echo "$r_bdf" > "/sys/bus/pci/drivers/$r_drv/bind"
    else echo "$r_bdf" > /sys/bus/pci/drivers_probe; fi
  fi
  [ "$(driver_of "$r_bdf")" = "$r_drv" ] || echo "restore $r_bdf: on '$(driver_of "$r_bdf")', wanted '$r_drv'" >> out/o/restore.log
}
op() {
  o_name=$1 o_bdf=$2 o_setup=$3; shift 3
  o_drv=$(driver_of "$o_bdf")
  for tool in lv nd; do
    [ -n "$o_setup" ] && ${tool}run $o_setup > /dev/null 2>&1
    capture out/o/$tool-op ${tool}run "$@"
    state_of "$o_bdf" > out/o/$tool-op.state
    restore $tool "$o_bdf" "$o_drv"
    [ -n "$o_setup" ] && ${tool}run $o_setup > /dev/null 2>&1
    capture_all out/o/$tool-op ${tool}run "$@"
    restore $tool "$o_bdf" "$o_drv"
  done
  for part in out err all rc state; do
    verdict "virsh/$o_name/$part" out/o/lv-op.$part out/o/nd-op.$part
  done
}
same() { s_name=$1 s_bdf=$2; shift 2; op "$s_name" "$s_bdf" "" "$@"; }
seq2() { op "$@"; }
same detach 0000:00:01.0 nodedev-detach pci_0000_00_01_0
same detach-driver-vfio 0000:00:01.0 nodedev-detach pci_0000_00_01_0 --driver vfio
same detach-driver-pci-stub 0000:00:05.1 nodedev-detach pci_0000_00_05_1 --driver pci-stub
same detach-driver-kvm 0000:00:05.1 nodedev-detach pci_0000_00_05_1 --driver kvm
same detach-driver-bad-name 0000:00:05.1 nodedev-detach pci_0000_00_05_1 --driver no-such-driver
same dettach-alias 0000:00:05.2 nodedev-dettach pci_0000_00_05_2
same detach-vf 0000:02:10.2 nodedev-detach pci_0000_02_10_2
same detach-unknown-device 0000:00:01.0 nodedev-detach pci_0000_0f_1f_0
same detach-not-a-pci-name 0000:00:01.0 nodedev-detach computer
seq2 reattach 0000:00:01.0 "nodedev-detach pci_0000_00_01_0" nodedev-reattach pci_0000_00_01_0
same reattach-not-detached 0000:00:01.0 nodedev-reattach pci_0000_00_01_0
same reattach-unknown-device 0000:00:01.0 nodedev-reattach pci_0000_0f_1f_0
same reset-bound 0000:01:00.0 nodedev-reset pci_0000_01_00_0
seq2 reset-on-vfio 0000:00:01.0 "nodedev-detach pci_0000_00_01_0" nodedev-reset pci_0000_00_01_0
same reset-unknown-device 0000:00:01.0 nodedev-reset pci_0000_0f_1f_0
same reset-bridge 0000:00:10.0 nodedev-reset pci_0000_00_10_0
same list-bad-cap 0000:00:01.0 nodedev-list --cap no-such-cap
same dumpxml-unknown-device 0000:00:01.0 nodedev-dumpxml pci_0000_0f_1f_0
# Last: libvirt unbinds a bridge's port driver before vfio-pci refuses it.
same detach-bridge 0000:00:10.0 nodedev-detach pci_0000_00_10_0
stamp through-libvirt

# ---- nodedev through libvirt (the libvirt build, run in the chroot) -----------
# `nodedev --connect qemu:///system …` and `nodedev virsh -c qemu:///system …`
# against `virsh -c qemu:///system …`: the read-only commands for every device
# (oracle_connect), then the operations, each from the same state.
URI=qemu:///system
cp ./nodedev-libvirt $LV/tmp/nodedev-libvirt
VC() { V -c $URI "$@"; }
NC="inlv /tmp/nodedev-libvirt --state-dir /run/nodedev-shim"
oracle_connect $URI
stamp connect-read
# op_c NAME BDF SETUP VIRSH-ARGS…: as op above, with three tools: virsh -c URI
# (lvc), nodedev virsh -c URI (ndc) and nodedev --connect URI in our syntax (nco).
lvcrun() { VC "$@"; }
ndcrun() { $NC virsh -c $URI "$@"; }
ncorun() { nco_cmd=${1#nodedev-}; shift; $NC --connect $URI "$nco_cmd" "$@"; }
op_c() {
  o_name=$1 o_bdf=$2 o_setup=$3; shift 3
  o_drv=$(driver_of "$o_bdf")
  for tool in lvc ndc nco; do
    [ -n "$o_setup" ] && ${tool}run $o_setup > /dev/null 2>&1
    capture out/o/$tool-op ${tool}run "$@"
    state_of "$o_bdf" > out/o/$tool-op.state
    restore lv "$o_bdf" "$o_drv"
    [ -n "$o_setup" ] && ${tool}run $o_setup > /dev/null 2>&1
    capture_all out/o/$tool-op ${tool}run "$@"
    restore lv "$o_bdf" "$o_drv"
  done
  for tool in ndc nco; do
    for part in out err all rc state; do
      verdict "connect/$tool/$o_name/$part" out/o/lvc-op.$part out/o/$tool-op.$part
    done
  done
}
op_c detach 0000:00:01.0 "" nodedev-detach pci_0000_00_01_0
op_c detach-driver-vfio 0000:00:01.0 "" nodedev-detach pci_0000_00_01_0 --driver vfio
op_c detach-driver-kvm 0000:00:05.1 "" nodedev-detach pci_0000_00_05_1 --driver kvm
op_c detach-driver-bad-name 0000:00:05.1 "" nodedev-detach pci_0000_00_05_1 --driver no-such-driver
op_c detach-unknown-device 0000:00:01.0 "" nodedev-detach pci_0000_0f_1f_0
op_c detach-not-a-pci-name 0000:00:01.0 "" nodedev-detach computer
op_c reattach 0000:00:01.0 "nodedev-detach pci_0000_00_01_0" nodedev-reattach pci_0000_00_01_0
op_c reattach-unknown-device 0000:00:01.0 "" nodedev-reattach pci_0000_0f_1f_0
op_c reset-bound 0000:01:00.0 "" nodedev-reset pci_0000_01_00_0
op_c reset-on-vfio 0000:00:01.0 "nodedev-detach pci_0000_00_01_0" nodedev-reset pci_0000_00_01_0
op_c reset-unknown-device 0000:00:01.0 "" nodedev-reset pci_0000_0f_1f_0
# Across tools: what one detached, the other gives back, and every view agrees on
# the driver at every step (sysfs, libvirt's XML, nodedev's own XML).
agree() { # NAME BDF DRIVER
  a_dev=pci_$(echo "$2" | tr ':.' '__')
  a_sys=$(driver_of "$2")
  a_lv=$(VC nodedev-dumpxml "$a_dev" 2>&1 | sed -n 's|^ *<name>\(.*\)</name>$|\1|p' | sed -n 2p)
  a_nd=$($N dumpxml "$a_dev" 2>&1 | sed -n 's|^ *<name>\(.*\)</name>$|\1|p' | sed -n 2p)
  if [ "$a_sys" = "$3" ] && [ "$a_lv" = "$3" ] && [ "$a_nd" = "$3" ]; then
    pass "oracle/connect/across/$1"; matched=$((matched + 1))
  else
    fail "oracle/connect/across/$1" "wanted $3: sysfs '$a_sys', libvirt '$a_lv', nodedev '$a_nd'"; differed=$((differed + 1))
  fi
}
$NC --connect $URI detach pci_0000_00_01_0 > out/o/across.log 2>&1
agree detached-by-connect 0000:00:01.0 vfio-pci
VC nodedev-reattach pci_0000_00_01_0 >> out/o/across.log 2>&1
agree reattached-by-virsh 0000:00:01.0 e1000e
VC nodedev-detach pci_0000_00_01_0 >> out/o/across.log 2>&1
agree detached-by-virsh 0000:00:01.0 vfio-pci
$NC --connect $URI reattach pci_0000_00_01_0 >> out/o/across.log 2>&1
agree reattached-by-connect 0000:00:01.0 e1000e
# nodedev check: every device both list, libvirt's XML against ours.
if $NC --connect $URI check > out/o/check.txt 2>&1; then
  pass "oracle/connect/check ($(tail -n 2 out/o/check.txt | head -n 1))"; matched=$((matched + 1))
else
  fail oracle/connect/check "$(grep -m1 -E '^(DIFFERS|ONLY|error)' out/o/check.txt)"; differed=$((differed + 1))
fi
# The hook with --connect: refused, and the daemon sees no new client.
$NC --connect $URI hook qemu vm1 prepare begin - < /dev/null > out/o/hook-connect.log 2>&1
if [ $? -eq 1 ] && grep -q 'never connects to libvirt' out/o/hook-connect.log; then
  pass oracle/connect/hook-refused; matched=$((matched + 1))
else
  fail oracle/connect/hook-refused "$(head -n 2 out/o/hook-connect.log)"; differed=$((differed + 1))
fi
stamp connect-ops

# ---- events: nodedev event (uevents, no daemon) beside virsh nodedev-event ----
# All three listen at once, for each event type, while SR-IOV VFs come and go, a
# device is hot-removed and a rescan brings it back: virsh nodedev-event, nodedev
# event (no daemon: udevd's uevents) and nodedev --connect event (libvirt's event
# API, as virsh uses it; in our syntax and in virsh mode with -c).
echo 0 > /sys/bus/pci/devices/0000:02:00.0/sriov_numvfs
inlv /bin/udevadm settle --timeout=60
EVT=70
for t in lifecycle update; do
  V nodedev-event --loop --event $t --timeout $EVT > out/o/lv-event-$t.txt 2>&1 &
  $N event --loop --event $t --timeout $EVT > out/o/nd-event-$t.txt 2>&1 &
  $NC --connect $URI event --loop --event $t --timeout $EVT > out/o/nc-event-$t.txt 2>&1 &
  $NC virsh -c $URI nodedev-event --loop --event $t --timeout $EVT > out/o/ncv-event-$t.txt 2>&1 &
done
sleep 5
echo 2 > /sys/bus/pci/devices/0000:02:00.0/sriov_numvfs
inlv /bin/udevadm settle --timeout=60; sleep 3
echo 0 > /sys/bus/pci/devices/0000:02:00.0/sriov_numvfs
inlv /bin/udevadm settle --timeout=60; sleep 3
echo 1 > /sys/bus/pci/devices/0000:00:05.2/remove
inlv /bin/udevadm settle --timeout=60; sleep 3
echo 1 > /sys/bus/pci/rescan
inlv /bin/udevadm settle --timeout=60
wait
for t in lifecycle update; do
  verdict "event/$t" out/o/lv-event-$t.txt out/o/nd-event-$t.txt
  verdict "connect/event/$t" out/o/lv-event-$t.txt out/o/nc-event-$t.txt
  verdict "connect/virsh-c/event/$t" out/o/lv-event-$t.txt out/o/ncv-event-$t.txt
done
# One-shot through libvirt: the first event only, without --loop (a VF appears).
V nodedev-event --event lifecycle --timeout 30 > out/o/lv-event-once.txt 2>&1 &
$NC --connect $URI event --event lifecycle --timeout 30 > out/o/nc-event-once.txt 2>&1 &
sleep 3
echo 1 > /sys/bus/pci/devices/0000:02:00.0/sriov_numvfs
wait
verdict connect/event/once out/o/lv-event-once.txt out/o/nc-event-once.txt
echo 0 > /sys/bus/pci/devices/0000:02:00.0/sriov_numvfs
inlv /bin/udevadm settle --timeout=60
# And what they must have seen.
for line in "pci_0000_02_10_0: Created" "pci_0000_02_10_2: Created" \
            "pci_0000_02_10_0: Deleted" "pci_0000_02_10_2: Deleted" \
            "pci_0000_00_05_2: Deleted" "pci_0000_00_05_2: Created"; do
  if grep -q "for node device $line\$" out/o/nd-event-lifecycle.txt; then
    pass "oracle/event/saw/$line"; matched=$((matched + 1))
  else
    fail "oracle/event/saw/$line" "not in nodedev event's output"; differed=$((differed + 1))
  fi
done
stamp events

# ---- host usage through the device classes ----------------------------------
# A mounted disk behind the USB controller (usb-storage) and behind an HBA
# (virtio-scsi): detaching the controller is refused, naming the disk (its node
# device and how it is attached) and the mount point; nothing is written.
inlv /sbin/modprobe ext4 2>> out/o/usage.log
usage_check() { # NAME BDF WHAT
  u_name=$1 u_bdf=$2 u_what=$3 u_disk=""
  for b in /sys/class/block/sd*; do
    case "$(readlink "$b")" in *"/$u_bdf/"*) u_disk=$(basename "$b"); break;; esac
  done
  [ -n "$u_disk" ] || { fail "usage/$u_name" "no disk behind $u_bdf"; return; }
  u_drv=$(driver_of "$u_bdf")
  mkdir -p "/mnt/$u_name"
  if ! mke2fs -q "/dev/$u_disk" >> out/o/usage.log 2>&1 || ! mount -t ext2 "/dev/$u_disk" "/mnt/$u_name" 2>> out/o/usage.log; then
    fail "usage/$u_name" "cannot make or mount a filesystem on /dev/$u_disk: $(tail -n 2 out/o/usage.log | tr '\n' ' ')"; return
  fi
  $N detach "pci_$(echo "$u_bdf" | tr ':.' '__')" > "out/o/usage-$u_name.txt" 2>&1
  u_rc=$?
  if [ $u_rc -ne 0 ] && grep -q "/dev/$u_disk (block_${u_disk}_[A-Za-z0-9_]*, $u_what) is mounted on /mnt/$u_name" "out/o/usage-$u_name.txt" &&
     [ "$(driver_of "$u_bdf")" = "$u_drv" ]; then
    pass "usage/$u_name"
  else
    fail "usage/$u_name" "exit $u_rc, driver $(driver_of "$u_bdf"): $(tr '\n' ' ' < "out/o/usage-$u_name.txt")"
    [ "$(driver_of "$u_bdf")" = "$u_drv" ] || $N reattach --force "pci_$(echo "$u_bdf" | tr ':.' '__')" >> out/o/usage.log 2>&1
  fi
  umount "/mnt/$u_name"
}
usage_check usb-disk-mounted-refused 0000:00:0b.0 "a USB disk"
usage_check hba-disk-mounted-refused 0000:00:0a.0 "a SCSI disk"
stamp usage

# ---- without udev: what libvirt lists on a host with no udevd -----------------
# libvirt drops every USB device and every sd*/sr* disk then, and nothing has links.
if why=$(without_udev); then
  ORACLE_TAG=oracle-noudev ORACLE_XML_DIR=out/libvirt-xml-noudev ORACLE_DIFF_PREFIX=oracle-noudev/
  oracle_inventory
  ORACLE_TAG=oracle ORACLE_XML_DIR=out/libvirt-xml ORACLE_DIFF_PREFIX=
else
  fail oracle-noudev/setup "$why"; differed=$((differed + 1))
fi
stamp without-udev

# Every operation above started from the device's original state.
if [ -s out/o/restore.log ]; then
  fail oracle/restore "a device could not be put back: $(tr '\n' ' ' < out/o/restore.log)"; differed=$((differed + 1))
else
  pass oracle/restore
fi
echo "oracle: $matched matched, $differed differed, $known known differences" | tee out/oracle-summary.txt
# The libvirtd log, for a FAIL's post-mortem.
cp /run/libvirtd.log out/o/ 2>/dev/null
[ "$differed" -eq 0 ]
