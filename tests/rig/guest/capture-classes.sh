# Guest script: the device-class fixtures. Boots with RIG_CLASSES=1 and the libvirt
# root (RIG_LVROOT), sets up as the oracle does (oracle.sh with ORACLE_ONLY_SETUP:
# udevd's coldplug and database, scsi_debug, libvirtd 9.0), then twice — with the
# udev database, and without it (oracle.sh's without_udev) — takes a
# `nodedev snapshot --include-serials` (QEMU's identifiers are not secret, and the
# computer's UUID must match libvirt's) and what libvirt itself prints for the same
# tree: the list, the tree, the list for every capability, every device's XML and
# nodedev-info. The golden test compares nodedev's answers from the snapshot with
# those. NAME comes from ./name.
. ./lib.sh
ORACLE_ONLY_SETUP=1
. ./oracle.sh
name=$(cat ./name)
links_up
# libvirt_says PREFIX: libvirt's answers, in the files the golden test reads.
libvirt_says() {
  V nodedev-list > "out/$1.libvirt-list.txt" 2>&1
  V nodedev-list --tree > "out/$1.libvirt-tree.txt" 2>&1
  for cap in system pci usb_device usb net scsi_host scsi_target scsi storage fc_host vports \
             scsi_generic drm mdev_types mdev ccw css vdpa ap_card ap_queue ap_matrix vpd; do
    echo "== $cap"; V nodedev-list --cap "$cap" 2>&1
  done > "out/$1.libvirt-caps.txt"
  # virsh ends each document with a blank line.
  grep . "out/$1.libvirt-list.txt" | while read -r d; do V nodedev-dumpxml "$d" 2>&1; done \
    > "out/$1.libvirt-dumpxml.xml"
  grep . "out/$1.libvirt-list.txt" | while read -r d; do V nodedev-info "$d" 2>&1; done \
    > "out/$1.libvirt-info.txt"
}
capture() { # SUFFIX
  if /tmp/nodedev snapshot --include-serials "out/$name-$1.tar"; then
    pass "snapshot $name-$1"
  else
    fail "snapshot $name-$1" "nodedev snapshot failed"
  fi
  libvirt_says "$name-$1"
}
capture udev
if why=$(without_udev); then
  capture noudev
else
  fail "without-udev $name" "$why"
fi
