# shellcheck shell=bash
# QEMU arguments for the rig's guest, sourced by run-guest.sh. The rich topology of
# ../shared/docs/real-kernel-rig.md §6:
#   00:01.0 e1000e          (pcie.0, pm reset)
#   00:05.0/.1/.2 e1000e    (a multifunction slot on pcie.0)
#   00:06.0 edu, 00:07.0 pci-testdev (no drivers)
#   rp1 00:10.0 -> e1000e            (pm + bus reset behind a root port)
#   rp2 00:11.0 -> igb 8086:10c9     (SR-IOV, 7 VFs max, VFs bind to igbvf)
#   rp3 00:12.0 -> nvme with SR-IOV  (2 VFs 1b36:0010)
#   rp4 00:13.0 -> switch: x3130 upstream, 2 xio3130 downstream (virtio-net, e1000e)
#   rp5 00:14.0 -> pcie-pci-bridge with 2 conventional e1000 (one IOMMU group)
# Root ports run at 5 GT/s (x-speed=5) so secondary bus reset works (rig §3).
# With RIG_NO_IOMMU=1 there is no intel-iommu and no IOMMU groups.
#
# RIG_CLASSES=1 adds the other device classes libvirt lists (the oracle's boot), at
# addresses no existing device uses, so every address above stays what it was (the
# scenarios and the captured fixtures name them):
#   00:08.0 virtio-blk (vda)         00:09.0 bochs-display (drm card0)
#   00:0a.0 virtio-scsi: scsi-hd, scsi-cd
#   00:0b.0 qemu-xhci: usb-hub with usb-kbd and usb-tablet, usb-storage on the root hub
#   00:1f.2 the q35 ICH9 AHCI (always there): ide-hd, ide-cd (no media)
#   rp6 00:15.0 -> nvme with one namespace (bus 0a, after every existing bus)
# and a system UUID (QEMU's default is all zeros, which libvirt replaces with a
# random one: see docs/compatibility.md).
# The disks are sparse files in the rig cache, opened with snapshot=on: the guest's
# writes never reach them and several guests can share them.
# RIG_LVROOT=DIR shares DIR (the libvirt root, libvirt-root.sh) read-only as 9p tag
# lvroot at 00:1e.0.
rig_topology() {
  local iommu=(-device intel-iommu,intremap=on,caching-mode=on)
  local append_iommu="intel_iommu=on iommu=pt"
  if [ "${RIG_NO_IOMMU:-0}" = 1 ]; then iommu=(); append_iommu=""; fi
  QEMU_ARGS=(
    -accel tcg -M q35 -m 512 -smp 1 -nodefaults -display none -no-reboot
    -device isa-debug-exit,iobase=0xf4,iosize=0x04
    "${iommu[@]}"
  )
  # RIG_EXTRA_DEVICES: more -device arguments (space-separated, no spaces inside).
  # shellcheck disable=SC2206
  [ -n "${RIG_EXTRA_DEVICES:-}" ] && QEMU_ARGS+=(${RIG_EXTRA_DEVICES})
  # RIG_MINIMAL=1: only the above (benchmarks), not the rich topology.
  if [ "${RIG_MINIMAL:-0}" = 1 ]; then
    KERNEL_APPEND="console=ttyS0 $append_iommu panic=-1 loglevel=4 modules=virtio_pci,e1000e,vfio-pci"
    return
  fi
  QEMU_ARGS+=(
    -device e1000e,addr=0x1.0,romfile=
    -device e1000e,addr=0x5.0,multifunction=on,romfile=
    -device e1000e,addr=0x5.1,romfile=
    -device e1000e,addr=0x5.2,romfile=
    -device edu,addr=0x6.0
    -device pci-testdev,addr=0x7.0
    -device pcie-root-port,id=rp1,bus=pcie.0,addr=0x10.0,chassis=1,slot=1,x-speed=5
    -device e1000e,bus=rp1,romfile=
    -device pcie-root-port,id=rp2,bus=pcie.0,addr=0x11.0,chassis=2,slot=2,x-speed=5
    -device igb,bus=rp2,romfile=
    -device pcie-root-port,id=rp3,bus=pcie.0,addr=0x12.0,chassis=3,slot=3,x-speed=5
    -device nvme-subsys,id=ns0
    -device nvme,bus=rp3,serial=rig0,subsys=ns0,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2
    -device pcie-root-port,id=rp4,bus=pcie.0,addr=0x13.0,chassis=4,slot=4,x-speed=5
    -device x3130-upstream,id=up0,bus=rp4
    -device xio3130-downstream,id=dn0,bus=up0,chassis=5,slot=0
    -device xio3130-downstream,id=dn1,bus=up0,chassis=6,slot=1
    -device virtio-net-pci,bus=dn0,romfile=
    -device e1000e,bus=dn1,romfile=
    -device pcie-root-port,id=rp5,bus=pcie.0,addr=0x14.0,chassis=7,slot=5,x-speed=5
    -device pcie-pci-bridge,id=pb0,bus=rp5
    -device e1000,bus=pb0,addr=0x1.0,romfile=
    -device e1000,bus=pb0,addr=0x2.0,romfile=
  )
  if [ "${RIG_CLASSES:-0}" = 1 ]; then
    local disks="${CACHE:?}/disks"
    mkdir -p "$disks"
    local d
    for d in vd:64M scsi:32M cd:4M sata:32M usb:16M nvme:32M; do
      [ -f "$disks/${d%%:*}.img" ] || truncate -s "${d#*:}" "$disks/${d%%:*}.img"
    done
    local o=format=raw,snapshot=on,if=none
    QEMU_ARGS+=(
      -uuid 6b1f3c2e-8d4a-4e55-9a0b-2c7d5e9f1a30
      -drive "file=$disks/vd.img,$o,id=vd0" -device virtio-blk-pci,addr=0x8.0,drive=vd0,serial=rigvd0
      -device bochs-display,addr=0x9.0
      -device virtio-scsi-pci,id=vscsi0,addr=0xa.0
      -drive "file=$disks/scsi.img,$o,id=sd0" -device scsi-hd,bus=vscsi0.0,drive=sd0,serial=rigsd0
      -drive "file=$disks/cd.img,$o,id=sr0" -device scsi-cd,bus=vscsi0.0,drive=sr0
      -device qemu-xhci,id=xhci0,addr=0xb.0
      -device usb-hub,bus=xhci0.0,port=1
      -device usb-kbd,bus=xhci0.0,port=1.1
      -device usb-tablet,bus=xhci0.0,port=1.2
      -drive "file=$disks/usb.img,$o,id=us0" -device usb-storage,bus=xhci0.0,port=2,drive=us0,serial=rigusb0
      -drive "file=$disks/sata.img,$o,id=ata0" -device ide-hd,bus=ide.0,drive=ata0,serial=rigata0
      -device ide-cd,bus=ide.1
      -device pcie-root-port,id=rp6,bus=pcie.0,addr=0x15.0,chassis=8,slot=6,x-speed=5
      -drive "file=$disks/nvme.img,$o,id=nv0" -device nvme,bus=rp6,serial=rig1,drive=nv0
    )
  fi
  if [ -n "${RIG_LVROOT:-}" ]; then
    QEMU_ARGS+=(
      -fsdev "local,id=lvroot,path=$RIG_LVROOT,security_model=none,readonly=on"
      -device virtio-9p-pci,fsdev=lvroot,mount_tag=lvroot,addr=0x1e.0
    )
  fi
  # No udev in the guest: load the drivers the devices need (and the stubs).
  KERNEL_APPEND="console=ttyS0 $append_iommu panic=-1 loglevel=4 modules=virtio_pci,virtio_net,e1000e,e1000,igb,igbvf,nvme,vfio-pci,pci-stub"
}
