# shellcheck shell=bash
# QEMU arguments for the persistence lane (persist-lane.sh), sourced by
# run-guest.sh through RIG_TOPOLOGY: the rig's base topology (topology.sh, with
# its IOMMU), booted the Debian way instead of busybox: the kernel, the
# initramfs that the guest root's own initramfs-tools made
# ($RIG_PERSIST_ROOT/boot), and that root read-write over 9p (tag rootfs at
# 00:1e.0), with systemd as PID 1. The root is a directory in the cache, so
# /etc (and the rest) persists from one QEMU run to the next.
#
# RIG_PERSIST_SWAP=1 puts another card model at the two assigned addresses:
# an e1000 (8086:100e) at 00:01.0 and at 00:05.1 instead of e1000e (8086:10d3).
here_topology=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=topology.sh
. "$here_topology/topology.sh"
eval "base_$(declare -f rig_topology)"
rig_topology() {
  base_rig_topology
  local i
  for i in "${!QEMU_ARGS[@]}"; do
    case "${QEMU_ARGS[$i]}" in
      512) [ "${QEMU_ARGS[$((i - 1))]}" = -m ] && QEMU_ARGS[i]=768;;
      e1000e,addr=0x1.0,romfile=|e1000e,addr=0x5.1,romfile=)
        [ "${RIG_PERSIST_SWAP:-0}" = 1 ] && QEMU_ARGS[i]=${QEMU_ARGS[$i]/e1000e/e1000};;
    esac
  done
  QEMU_ARGS+=(
    -fsdev "local,id=rootfs,path=${RIG_PERSIST_ROOT:?},security_model=none"
    -device virtio-9p-pci,fsdev=rootfs,mount_tag=rootfs,addr=0x1e.0
  )
  BOOT_ARGS=(
    -kernel "$CACHE/kroot/boot/vmlinuz-$KVER"
    -initrd "$RIG_PERSIST_ROOT/boot/initrd.img-$KVER"
    -append "console=ttyS0 intel_iommu=on iommu=pt panic=-1 boot=rig9p root=rootfs rw init=/lib/systemd/systemd systemd.show_status=1"
  )
}
