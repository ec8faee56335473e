# shellcheck shell=bash
# The Xen lane's boot, sourced by run-guest.sh when RIG_TOPOLOGY names this file:
# Debian's Xen 4.17 hypervisor (xen-setup.sh) loaded by QEMU's multiboot loader,
# the rig's Debian kernel as its PV dom0 (console=hvc0, which Xen puts on com1) and
# the rig's busybox initramfs, on q35 under TCG. Facts behind each choice:
# ../shared/docs/xen-dom0-and-persistence.md, Part A.
#
#   00:01.0 e1000e   00:03.0 e1000e   00:04.0 e1000e    (8086:10d3, one id for all)
#   00:02.0 virtio-9p host0 (run-guest.sh's share, mounted: the in-use refusal)
#   00:05.0/.1/.2 e1000e                                (a multifunction slot)
#   rp 00:10.0 -> pcie-pci-bridge 01:00.0 -> e1000 02:01.0 (8086:100e)
#   00:1e.0 virtio-9p xenroot (the Xen tools, read-only)
#
# intel-iommu is Xen's, not dom0's: Xen drives VT-d ("I/O virtualisation enabled")
# and hides it from its PV dom0, which therefore has no IOMMU groups (the lane
# checks the tool copes). Without it `xl pci-assignable-add` binds the device but
# fails ("failed to quarantine": libxl assigns it to Xen's dom_io).
# Xen runs without `noreboot`, so a dom0 panic reboots and -no-reboot ends QEMU at
# once instead of waiting for the timeout. xen-pciback is not in modules=: nothing
# loads it by itself (it has no modalias), and the lane checks that.
rig_topology() {
  local xen_env
  xen_env=$("$here/xen-setup.sh") || { echo "xen-topology: xen-setup.sh failed" >&2; return 1; }
  eval "$xen_env"
  QEMU_ARGS=(
    -accel tcg -M q35 -cpu max -m 1024 -smp 1 -nodefaults -display none -no-reboot
    -device isa-debug-exit,iobase=0xf4,iosize=0x04
    -device intel-iommu,intremap=on,caching-mode=on
    -device e1000e,addr=0x1.0,romfile=
    -device e1000e,addr=0x3.0,romfile=
    -device e1000e,addr=0x4.0,romfile=
    -device e1000e,addr=0x5.0,multifunction=on,romfile=
    -device e1000e,addr=0x5.1,romfile=
    -device e1000e,addr=0x5.2,romfile=
    -device pcie-root-port,id=rp1,bus=pcie.0,addr=0x10.0,chassis=1,slot=1,x-speed=5
    -device pcie-pci-bridge,id=pb0,bus=rp1
    -device e1000,bus=pb0,addr=0x1.0,romfile=
    -fsdev "local,id=xenroot,path=$XENROOT,security_model=none,readonly=on"
    -device virtio-9p-pci,fsdev=xenroot,mount_tag=xenroot,addr=0x1e.0
  )
  KERNEL_APPEND="console=hvc0 panic=-1 loglevel=4 modules=virtio_pci,e1000e,e1000"
  # QEMU's multiboot loader: -kernel is Xen (its command line after the first
  # word), -initrd lists the modules separated by commas (",," is a literal
  # comma), each with its command line after a space.
  # shellcheck disable=SC2034  # read by run-guest.sh
  BOOT_ARGS=(
    -kernel "$XEN" -append "console=com1 dom0_mem=512M,max:512M"
    -initrd "$CACHE/kroot/boot/vmlinuz-$KVER ${KERNEL_APPEND//,/,,},${initrd:?}"
  )
}
