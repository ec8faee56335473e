#!/usr/bin/env python3
"""Generates a synthetic sysfs tree with many PCI functions, laid out as the kernel
lays it out (device directories under sys/devices, relative links from
sys/bus/pci/devices, driver and iommu_group links), for the listing benchmark.

usage: gen-tree.py FUNCTIONS OUTDIR [DISKS USB_DEVICES]

Layout: a host bridge at 0000:00:00.0, then root ports 0000:00:SS.0 each with a
secondary bus holding 32 multifunction slots x 8 functions (e1000e-like NICs,
4 KiB config with a PCIe capability, bound to e1000e, one IOMMU group each).

With DISKS and USB_DEVICES (issue 13's benchmark): one more root port with SAS HBAs
(16 functions, the disks spread over them, one SCSI host each, one target and LUN
per disk: host, target, device, sdX with its attributes, /sys/block and
/sys/dev/block links, a udev database entry), and one more with xHCI controllers
(a bus per 128 devices: the root hub, 7 hubs, the rest behind them; each device with
its attributes, its descriptors and one interface, and a udev database entry)."""
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
    disks = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    usb = int(sys.argv[4]) if len(sys.argv) > 4 else 0
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
    if disks:
        bus = classes_disks(function, write, link, bus, disks)
        made += 17
    if usb:
        bus = classes_usb(function, write, link, bus, usb)
        made += 1 + (usb + 127) // 128
    print(f"{made} functions, {disks} disks, {usb} USB devices under {root}")


def disk_name(i):
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(ord("a") + r) + s
    return "sd" + s


def classes_disks(function, write, link, bus, disks):
    host = "/sys/devices/pci0000:00"
    port_bdf = f"0000:00:{bus:02x}.0"
    port = f"{host}/{port_bdf}"
    function(port, port_bdf, 0x1B36, 0x000C, 0x060400, 1, "pcieport")
    hbas = 16
    for h in range(hbas):
        bdf = f"0000:{bus:02x}:{h // 8:02x}.{h % 8}"
        function(f"{port}/{bdf}", bdf, 0x1000, 0x0097, 0x010700, 0x80 if h % 8 == 0 else 0, "mpt3sas")
        hdir = f"{port}/{bdf}/host{h}"
        write(f"{hdir}/uevent", "DEVTYPE=scsi_host\n")
        link(f"{hdir}/subsystem", "/sys/bus/scsi")
        link(f"/sys/bus/scsi/devices/host{h}", hdir)
        write(f"{hdir}/scsi_host/host{h}/unique_id", f"{h + 1}\n")
        link(f"/sys/class/scsi_host/host{h}", f"{hdir}/scsi_host/host{h}")
    for i in range(disks):
        h, t = i % hbas, i // hbas
        bdf = f"0000:{bus:02x}:{h // 8:02x}.{h % 8}"
        tdir = f"{port}/{bdf}/host{h}/target{h}:0:{t}"
        ldir = f"{tdir}/{h}:0:{t}:0"
        write(f"{tdir}/uevent", "DEVTYPE=scsi_target\n")
        link(f"{tdir}/subsystem", "/sys/bus/scsi")
        link(f"/sys/bus/scsi/devices/target{h}:0:{t}", tdir)
        write(f"{ldir}/uevent", "DEVTYPE=scsi_device\nDRIVER=sd\nMODALIAS=scsi:t-0x00\n")
        link(f"{ldir}/subsystem", "/sys/bus/scsi")
        link(f"/sys/bus/scsi/devices/{h}:0:{t}:0", ldir)
        link(f"{ldir}/driver", "/sys/bus/scsi/drivers/sd")
        write(f"{ldir}/type", "0\n")
        write(f"{ldir}/vendor", "SEAGATE \n")
        write(f"{ldir}/model", "ST4000NM0023    \n")
        write(f"{ldir}/rev", "0004\n")
        name = disk_name(i)
        minor = i * 16
        ddir = f"{ldir}/block/{name}"
        write(f"{ddir}/uevent", f"MAJOR=8\nMINOR={minor}\nDEVNAME={name}\nDEVTYPE=disk\nDISKSEQ={i + 1}\n")
        link(f"{ddir}/subsystem", "/sys/class/block")
        link(f"{ddir}/device", ldir)
        link(f"/sys/class/block/{name}", ddir)
        link(f"/sys/block/{name}", ddir)
        link(f"/sys/dev/block/8:{minor}", ddir)
        for attr, value in [("dev", f"8:{minor}"), ("size", "7814037168"), ("removable", "0"),
                            ("ro", "0"), ("hidden", "0"), ("ext_range", "16"),
                            ("queue/logical_block_size", "512"), ("queue/physical_block_size", "4096"),
                            ("queue/rotational", "1"), ("queue/hw_sector_size", "512")]:
            write(f"{ddir}/{attr}", value + "\n")
        serial = f"35000c500{i:07x}"
        write(f"/run/udev/data/b8:{minor}",
              f"S:disk/by-id/scsi-{serial}\nS:disk/by-id/wwn-0x{serial[1:]}\n"
              f"S:disk/by-path/pci-{bdf}-sas-phy{t}-lun-0\nI:1000000\nE:ID_SCSI=1\n"
              f"E:ID_VENDOR=SEAGATE\nE:ID_MODEL=ST4000NM0023\nE:ID_TYPE=disk\nE:ID_BUS=scsi\n"
              f"E:ID_SERIAL={serial}\nE:ID_WWN=0x{serial[1:]}\nG:systemd\nQ:systemd\nV:1\n")
    return bus + 1


def usb_descriptors(vendor, product, klass):
    dev = bytes([18, 1, 0x00, 0x02, klass, 0, 0, 64]) + vendor.to_bytes(2, "little") + \
        product.to_bytes(2, "little") + bytes([0x00, 0x01, 1, 2, 0, 1])
    cfg = bytes([9, 2, 25, 0, 1, 1, 0, 0xA0, 50])
    intf = bytes([9, 4, 0, 0, 1, klass if klass == 9 else 3, 0, 0, 0])
    ep = bytes([7, 5, 0x81, 3, 8, 0, 12])
    return dev + cfg + intf + ep


def classes_usb(function, write, link, bus, count):
    host = "/sys/devices/pci0000:00"
    port_bdf = f"0000:00:{bus:02x}.0"
    port = f"{host}/{port_bdf}"
    function(port, port_bdf, 0x1B36, 0x000C, 0x060400, 1, "pcieport")
    made = 0
    ctrl = 0
    while made < count:
        bdf = f"0000:{bus:02x}:{ctrl // 8:02x}.{ctrl % 8}"
        function(f"{port}/{bdf}", bdf, 0x1B36, 0x000D, 0x0C0330, 0x80 if ctrl % 8 == 0 else 0, "xhci_hcd")
        b = ctrl + 1
        names = [f"usb{b}"] + [f"{b}-{h}" for h in range(1, 8)]
        leaf = 0
        while len(names) < 128:
            h, p = leaf % 7 + 1, leaf // 7 + 1
            names.append(f"{b}-{h}.{p}")
            leaf += 1
        for d, name in enumerate(names):
            if made >= count:
                break
            if name.startswith("usb"):
                parent = f"{port}/{bdf}"
            elif "." not in name:
                parent = f"{port}/{bdf}/usb{b}"
            else:
                hub = name.split(".")[0]
                parent = f"{port}/{bdf}/usb{b}/{hub}"
            ddir = f"{parent}/{name}"
            hub = name.startswith("usb") or "." not in name
            vendor, product = (0x1D6B, 0x0002) if name.startswith("usb") else \
                ((0x0409, 0x55AA) if hub else (0x0627, 0x0001))
            devnum = d + 1
            minor = (b - 1) * 128 + d
            write(f"{ddir}/uevent",
                  f"MAJOR=189\nMINOR={minor}\nDEVNAME=bus/usb/{b:03d}/{devnum:03d}\nDEVTYPE=usb_device\n"
                  f"DRIVER=usb\nPRODUCT={vendor:x}/{product:x}/100\nTYPE={9 if hub else 0}/0/0\n"
                  f"BUSNUM={b:03d}\nDEVNUM={devnum:03d}\n")
            link(f"{ddir}/subsystem", "/sys/bus/usb")
            link(f"{ddir}/driver", "/sys/bus/usb/drivers/usb")
            link(f"/sys/bus/usb/devices/{name}", ddir)
            for attr, value in [("idVendor", f"{vendor:04x}"), ("idProduct", f"{product:04x}"),
                                ("manufacturer", "QEMU"), ("product", "QEMU USB Hub" if hub else "QEMU USB Tablet"),
                                ("busnum", str(b)), ("devnum", str(devnum)), ("speed", "480"),
                                ("version", " 2.00"), ("bDeviceClass", "09" if hub else "00"),
                                ("bNumInterfaces", " 1"), ("bNumConfigurations", "1"), ("devpath", name.split("-")[-1])]:
                write(f"{ddir}/{attr}", value + "\n")
            write(f"{ddir}/descriptors", usb_descriptors(vendor, product, 9 if hub else 0))
            port_no = "0" if name.startswith("usb") else name.split("-", 1)[1]
            iname = f"{b}-{port_no}:1.0"
            idir = f"{ddir}/{iname}"
            write(f"{idir}/uevent", f"DEVTYPE=usb_interface\nDRIVER={'hub' if hub else 'usbhid'}\n")
            link(f"{idir}/subsystem", "/sys/bus/usb")
            link(f"/sys/bus/usb/devices/{iname}", idir)
            link(f"{idir}/driver", f"/sys/bus/usb/drivers/{'hub' if hub else 'usbhid'}")
            for attr, value in [("bInterfaceNumber", "00"), ("bInterfaceClass", "09" if hub else "03"),
                                ("bInterfaceSubClass", "00"), ("bInterfaceProtocol", "00"),
                                ("bAlternateSetting", " 0"), ("bNumEndpoints", "01")]:
                write(f"{idir}/{attr}", value + "\n")
            write(f"/run/udev/data/c189:{minor}",
                  f"I:1000000\nE:ID_VENDOR_ID={vendor:04x}\nE:ID_MODEL_ID={product:04x}\n"
                  f"E:ID_VENDOR_FROM_DATABASE={'Linux Foundation' if vendor == 0x1D6B else 'QEMU'}\n"
                  f"E:ID_BUS=usb\nE:ID_USB_INTERFACES=:090000:\nG:systemd\nQ:systemd\nV:1\n")
            made += 1
        ctrl += 1
    return bus + 1


main()
