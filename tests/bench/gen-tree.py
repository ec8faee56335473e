#!/usr/bin/env python3
"""Generates a synthetic sysfs tree with many PCI functions, laid out as the kernel
lays it out (device directories under sys/devices, relative links from
sys/bus/pci/devices, driver and iommu_group links), for the listing benchmark.

usage: gen-tree.py FUNCTIONS OUTDIR

Layout: a host bridge at 0000:00:00.0, then root ports 0000:00:SS.0 each with a
secondary bus holding 32 multifunction slots x 8 functions (e1000e-like NICs,
4 KiB config with a PCIe capability, bound to e1000e, one IOMMU group each)."""
import os
import sys


def config(vendor, device, klass, header_type, pcie=True):
    c = bytearray(4096)
    c[0:2] = vendor.to_bytes(2, "little")
    c[2:4] = device.to_bytes(2, "little")
    c[9:12] = klass.to_bytes(3, "little")
    c[0x0E] = header_type
    if pcie:
        c[0x06] = 0x10
        c[0x34] = 0x40
        c[0x40] = 0x10
        c[0x42:0x44] = ((0 if header_type == 0 else 4) << 4 | 2).to_bytes(2, "little")
        c[0x4C:0x50] = (1 << 24 | 1 << 4 | 1).to_bytes(4, "little")
        c[0x52:0x54] = (1 << 4 | 1).to_bytes(2, "little")
    return bytes(c)


def main():
    total, out = int(sys.argv[1]), sys.argv[2]
    root = os.path.abspath(out)

    def path(p):
        return os.path.join(root, p.lstrip("/"))

    def write(p, data):
        os.makedirs(os.path.dirname(path(p)), exist_ok=True)
        with open(path(p), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())

    def link(p, target):
        os.makedirs(os.path.dirname(path(p)), exist_ok=True)
        rel = os.path.relpath(target, os.path.dirname(p))
        if os.path.lexists(path(p)):
            os.remove(path(p))
        os.symlink(rel, path(p))

    group = [0]

    def function(dev_dir, bdf, vendor, device, klass, header, driver):
        write(f"{dev_dir}/vendor", f"0x{vendor:04x}\n")
        write(f"{dev_dir}/device", f"0x{device:04x}\n")
        write(f"{dev_dir}/class", f"0x{klass:06x}\n")
        write(f"{dev_dir}/subsystem_vendor", f"0x{vendor:04x}\n")
        write(f"{dev_dir}/subsystem_device", "0x0000\n")
        write(f"{dev_dir}/revision", "0x00\n")
        write(f"{dev_dir}/numa_node", "-1\n")
        write(f"{dev_dir}/driver_override", "(null)\n")
        write(f"{dev_dir}/irq", "0\n")
        write(f"{dev_dir}/resource", "0x0000000000000000 0x0000000000000000 0x0000000000000000\n" * 6)
        write(f"{dev_dir}/modalias",
              f"pci:v{vendor:08X}d{device:08X}sv{vendor:08X}sd00000000bc{klass >> 16:02X}sc{(klass >> 8) & 0xff:02X}i{klass & 0xff:02X}\n")
        write(f"{dev_dir}/config", config(vendor, device, klass, header))
        link(f"/sys/bus/pci/devices/{bdf}", dev_dir)
        ddir = f"/sys/bus/pci/drivers/{driver}"
        link(f"{dev_dir}/driver", ddir)
        link(f"{ddir}/{bdf}", dev_dir)
        g = group[0]
        group[0] += 1
        link(f"{dev_dir}/iommu_group", f"/sys/kernel/iommu_groups/{g}")
        link(f"/sys/kernel/iommu_groups/{g}/devices/{bdf}", dev_dir)

    os.makedirs(path("/sys/class/net"), exist_ok=True)
    write("/sys/bus/pci/drivers_probe", "")
    host = "/sys/devices/pci0000:00"
    function(f"{host}/0000:00:00.0", "0000:00:00.0", 0x8086, 0x29C0, 0x060000, 0, "agpgart-intel")
    made = 1
    bus = 1
    while made < total:
        port_bdf = f"0000:00:{bus:02x}.0"
        port = f"{host}/{port_bdf}"
        function(port, port_bdf, 0x1B36, 0x000C, 0x060400, 1, "pcieport")
        made += 1
        for slot in range(32):
            for fn in range(8):
                if made >= total:
                    break
                bdf = f"0000:{bus:02x}:{slot:02x}.{fn}"
                function(f"{port}/{bdf}", bdf, 0x8086, 0x10D3, 0x020000, 0x80 if fn == 0 else 0, "e1000e")
                made += 1
        bus += 1
    print(f"{made} functions under {root}")


main()
