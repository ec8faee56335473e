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
  # No udev in the guest: load the drivers the devices need (and the stubs).
  KERNEL_APPEND="console=ttyS0 $append_iommu panic=-1 loglevel=4 modules=virtio_pci,virtio_net,e1000e,e1000,igb,igbvf,nvme,vfio-pci,pci-stub"
}
