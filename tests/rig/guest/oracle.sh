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
mkdir -p out/diffs out/o
cp ./nodedev /tmp/nodedev
N="/tmp/nodedev --state-dir /run/nodedev-shim --unbind-timeout 20"
LV=/lv/m
export LC_ALL=C
matched=0 differed=0 known=0

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

# ---- helpers ----------------------------------------------------------------
# The known differences (oracle-pending.txt): pending capabilities and checks.
PENDING_CAPS=$(awk '$1 == "cap" {print $2}' ./oracle-pending.txt)
pending_check() { awk -v n="$1" '$1 == "check" && $2 == n {$1 = ""; $2 = ""; sub(/^ +/, ""); print; f = 1} END {exit !f}' ./oracle-pending.txt; }
pending_cap_why() { awk -v n="$1" '$1 == "cap" && $2 == n {$1 = ""; $2 = ""; sub(/^ +/, ""); print}' ./oracle-pending.txt; }

# verdict NAME FILE_LIBVIRT FILE_OURS [KNOWN_WHY]: PASS when the files are equal;
# otherwise FAIL (or KNOWN-DIFF when KNOWN_WHY is given or NAME is a pending
# check), with the unified diff in out/diffs/.
verdict() {
  v_name=$1 v_a=$2 v_b=$3 v_why=${4:-}
  if cmp -s "$v_a" "$v_b"; then
    pass "oracle/$v_name"; matched=$((matched + 1)); return 0
  fi
  v_diff="out/diffs/$(echo "$v_name" | tr '/ ' '__').diff"
  diff -u "$v_a" "$v_b" > "$v_diff"
  sed -i "1s|.*|--- libvirt: $v_name|; 2s|.*|+++ nodedev: $v_name|" "$v_diff"
  [ -z "$v_why" ] && v_why=$(pending_check "$v_name")
  if [ -n "$v_why" ]; then
    echo "KNOWN-DIFF oracle/$v_name: $v_why" >> "$RESULTS"; known=$((known + 1))
  else
    fail "oracle/$v_name" "differs from libvirt (diff: out/diffs/$(basename "$v_diff"))"; differed=$((differed + 1))
  fi
  return 1
}
# capture PREFIX CMD…: stdout, stderr, both interleaved as a terminal would show
# them (2>&1), and the exit code, in PREFIX.{out,err,all,rc}.
capture() {
  c_p=$1; shift
  "$@" > "$c_p.out" 2> "$c_p.err"; echo $? > "$c_p.rc"
}
capture_all() { c_p=$1; shift; "$@" > "$c_p.all" 2>&1; }
ovr() { cat "/sys/bus/pci/devices/$1/driver_override" 2>/dev/null; }
state_of() { echo "driver=$(driver_of "$1") driver_override=$(ovr "$1")"; }

# Links up, so that libvirt reads speeds (only an "up" link has one): every
# interface but the multifunction slot's, which stays down for the other state.
for i in /sys/class/net/*; do
  case "$(basename "$(readlink "$i/device" 2>/dev/null)")" in 0000:00:05.*) continue;; esac
  ip link set "$(basename "$i")" up 2>> out/o/ip.log
done
sleep 3

# ---- the listing --------------------------------------------------------------
V nodedev-list > out/o/lv-list.txt 2> out/o/lv-list.err
$N list > out/o/nd-list.txt 2> out/o/nd-list.err
# Devices of the pending classes, per libvirt, and the reason for each.
: > out/o/pending-names.txt
for cap in $PENDING_CAPS; do
  V nodedev-list --cap "$cap" | grep . | while read -r d; do echo "$d $cap"; done >> out/o/pending-names.txt
done
cut -d' ' -f1 out/o/pending-names.txt | sort -u > out/o/pending-only-names.txt
grep -vxF -f out/o/pending-only-names.txt out/o/lv-list.txt > out/o/lv-list-known.txt
verdict list out/o/lv-list-known.txt out/o/nd-list.txt
cp out/o/lv-list.txt out/oracle-libvirt-list.txt

V nodedev-list --tree > out/o/lv-tree.txt 2>&1
$N list --tree > out/o/nd-tree.txt 2>&1
: > /tmp/none
awk -v skip=/tmp/none -f ./tree.awk out/o/lv-tree.txt > out/o/lv-tree-regen.txt
verdict tree-printer-self-check out/o/lv-tree.txt out/o/lv-tree-regen.txt
awk -v skip=out/o/pending-only-names.txt -f ./tree.awk out/o/lv-tree.txt > out/o/lv-tree-known.txt
verdict tree out/o/lv-tree-known.txt out/o/nd-tree.txt

# --cap X for every capability name virsh 9.0 accepts (virNodeDevCap enum order).
for cap in system pci usb_device usb net scsi_host scsi_target scsi storage fc_host vports \
           scsi_generic drm mdev_types mdev ccw css vdpa ap_card ap_queue ap_matrix vpd; do
  capture out/o/lv-cap-$cap V nodedev-list --cap "$cap"
  capture out/o/nd-cap-$cap $N list --cap "$cap"
  why=$(pending_cap_why "$cap")
  cat out/o/lv-cap-$cap.out out/o/lv-cap-$cap.err out/o/lv-cap-$cap.rc > out/o/lv-cap-$cap.txt
  cat out/o/nd-cap-$cap.out out/o/nd-cap-$cap.err out/o/nd-cap-$cap.rc > out/o/nd-cap-$cap.txt
  verdict "list-cap/$cap" out/o/lv-cap-$cap.txt out/o/nd-cap-$cap.txt "$why"
done
stamp listed

# ---- every device libvirt lists: dumpxml and nodedev-info ---------------------
# dev_check NAME TAG: compares `virsh nodedev-dumpxml` with `nodedev dumpxml` and
# `virsh nodedev-info` with `nodedev virsh nodedev-info` for one device.
dev_check() {
  d=$1 tag=$2
  why=""
  cap=$(awk -v d="$d" '$1 == d {print $2; exit}' out/o/pending-names.txt)
  [ -n "$cap" ] && why="class $cap pending, issue 13"
  V nodedev-dumpxml "$d" > out/o/lv.xml 2>&1
  $N dumpxml "$d" > out/o/nd.xml 2>&1
  verdict "${tag}dumpxml/$d" out/o/lv.xml out/o/nd.xml "$why"
  V nodedev-info "$d" > out/o/lv.info 2>&1
  $N virsh nodedev-info "$d" > out/o/nd.info 2>&1
  verdict "${tag}info/$d" out/o/lv.info out/o/nd.info "$why"
}
while read -r d; do [ -n "$d" ] && dev_check "$d" ""; done < out/o/lv-list.txt
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

echo "oracle: $matched matched, $differed differed, $known known differences" | tee out/oracle-summary.txt
# The libvirtd log, for a FAIL's post-mortem.
cp /run/libvirtd.log out/o/ 2>/dev/null
inlv /bin/udevadm control --exit 2>/dev/null
[ "$differed" -eq 0 ]
