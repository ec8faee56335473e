# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_nodedev_global_optspecs
    string join \n connect= root= pci-ids= q/quiet config-dir= state-dir= unbind-timeout= lock-timeout= h/help V/version
end

function __fish_nodedev_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_nodedev_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_nodedev_using_subcommand
    set -l cmd (__fish_nodedev_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c nodedev -n "__fish_nodedev_needs_command" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_needs_command" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_needs_command" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_needs_command" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_needs_command" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_needs_command" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_needs_command" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_needs_command" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_needs_command" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_needs_command" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "list" -d 'Enumerate devices on this host (virsh nodedev-list)'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "dumpxml" -d 'Print a device\'s XML description (virsh nodedev-dumpxml)'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "info" -d 'Print basic information about a device (virsh nodedev-info)'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "detach" -d 'Detach devices from their host drivers to a stub (virsh nodedev-detach)'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "reattach" -d 'Give devices back to their host drivers (virsh nodedev-reattach)'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "reset" -d 'Reset devices with the kernel\'s function reset (virsh nodedev-reset)'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "snapshot" -d 'Write the sysfs subset this tool reads into a tar, for bug reports and `--root`'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "groups" -d 'Every IOMMU group, its members, and whether VFIO can use it now'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "preflight" -d 'What a detach would do and whether the host survives it; writes nothing'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "xml" -d 'Work with node-device XML documents'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "apply" -d 'Detach or reattach every PCI host device of a domain document'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "hook" -d 'The libvirt hook entry point, and its installation'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "persist" -d 'Persistent assignments: the devices put on a stub at every boot'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "boot" -d 'Put every persistently assigned device on its stub (the boot unit runs this); `--udev BDF` answers the udev rule'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "check" -d 'Compare every device\'s XML with libvirt\'s (the daemon at --connect, else libvirt\'s default URI): a diff per device that differs, exit 1 if any does'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "event" -d 'Wait for node-device events and print them as `virsh nodedev-event` does: from the kernel\'s uevents, or from libvirt with --connect'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "virsh" -d 'virsh\'s command line (`nodedev virsh nodedev-detach pci_…`), for scripts written for virsh; also what runs when this binary is invoked as `virsh`'
complete -c nodedev -n "__fish_nodedev_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l cap -d 'Capability names, separated by commas (pci, net, system, mdev_types, vpd, …)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l tree -d 'List devices in a tree'
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l json -d 'Print JSON instead of names'
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l detached -d 'List the devices this tool detached (its state records) instead'
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -l inactive-only -d 'Only inactive devices: virsh\'s `--inactive`; every device seen here is active'
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand list" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -l all -d 'Every device, one document after another'
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -l exact-name -d 'Accept only exact node-device names, as virsh does (virsh mode)'
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand dumpxml" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -l json -d 'Print JSON, with everything the tool knows about the device'
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -l exact-name -d 'Accept only exact node-device names, as virsh does (virsh mode)'
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand info" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l id -d 'Every PCI function with these ids: VVVV:DDDD (vendor:device) or VVVV:DDDD:SVVV:SDDD (with the subsystem\'s), in hex; may be repeated' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l xml -d 'Take the device from a node-device document or a `<hostdev>` element (whose `<driver name/model>` picks the stub unless --driver does)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l driver -d 'The stub: `vfio` (default: the best VFIO variant, else vfio-pci), `xen` (pciback), or a driver name such as `pci-stub`' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l method -d 'How to bind the stub' -r -f -a "auto\t'driver_override where the kernel has it (Linux ≥ 3.16), else new_id'
override\t'driver_override only'
new-id\t'new_id / bind / remove_id (also on kernels with driver_override)'"
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l owner -d 'Give the device\'s /dev/vfio/N to `USER[:GROUP]` (for QEMU running unprivileged); remembered with --persistent' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l virsh -d 'virsh mode: take `--driver` as the libvirt driver virsh would talk to does (`qemu`: vfio only; `xen`, libxl: pciback only; `auto`: xen in a Xen dom0)' -r -f -a "qemu\t'`qemu:///system` (the QEMU driver)'
xen\t'`xen:///system` (the libxl driver)'
auto\t'Whichever this host has: libxl in a Xen dom0, else QEMU'"
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l group -d 'Detach every endpoint of each device\'s IOMMU group, all or none'
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l force -d 'Detach even what the tool refuses to protect the host (in use, bridges, PFs with VFs)'
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l dry-run -d 'Print the sysfs writes that would be made, and make none'
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l persistent -d 'Also at every boot: remember each device (its address, stub and ids) in the config directory (see `nodedev persist`)'
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l json -d 'Print JSON'
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -l exact-name -d 'Accept only exact node-device names, as virsh does (virsh mode)'
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodedev -n "__fish_nodedev_using_subcommand detach" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l id -d 'Every PCI function with these ids: VVVV:DDDD (vendor:device) or VVVV:DDDD:SVVV:SDDD (with the subsystem\'s), in hex; may be repeated' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l xml -d 'Take the device from a node-device document or a `<hostdev>` element' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l persistent -d 'Also forget the devices\' persistent assignments (once each is given back)'
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l force -d 'Reattach even if the identity differs from the record or the host uses the device'
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l dry-run -d 'Print the sysfs writes that would be made, and make none'
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l json -d 'Print JSON'
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -l exact-name -d 'Accept only exact node-device names, as virsh does (virsh mode)'
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand reattach" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l id -d 'Every PCI function with these ids: VVVV:DDDD (vendor:device) or VVVV:DDDD:SVVV:SDDD (with the subsystem\'s), in hex; may be repeated' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l method -d 'Only this method (flr, af_flr, pm, bus, acpi, device_specific, cxl_bus), through reset_method (Linux ≥ 5.15); the list is restored afterwards. With the config-space sequence: flr, af_flr, pm or bus' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l force -d 'Reset a device bound to vfio too (vfio resets it itself; skipped otherwise)'
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l config-space -d 'Use libvirt\'s config-space sequence (FLR, PM D3hot→D0, secondary bus reset) even where the kernel offers a reset. Without this flag it is used only where the kernel offers none'
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l list -d 'Show the methods the device offers and what the tool would use; reset nothing'
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l json -d 'Print JSON'
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l exact-name -d 'Accept only exact node-device names, as virsh does (virsh mode)'
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -l virsh-output -d 'virsh mode: print what virsh prints, no notes of ours'
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand reset" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand snapshot" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand snapshot" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand snapshot" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand snapshot" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand snapshot" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand snapshot" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand snapshot" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand snapshot" -l include-serials -d 'Keep what only root can read and that identifies the machine: DMI product/board/chassis serials and the system UUID, PCI VPD, and PCIe device serial numbers (left out by default)'
complete -c nodedev -n "__fish_nodedev_using_subcommand snapshot" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand snapshot" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand snapshot" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -l group -d 'Only this group' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -l class -d 'Only the groups with a device of this class: gpu, vga, audio, multimedia, net, ethernet, wireless, storage, nvme, sata, sas, raid, usb, serial-bus, bridge, crypto, accelerator, or a class code in hex (03, 0300, 030000)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -l json -d 'Print JSON'
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand groups" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -l id -d 'Every PCI function with these ids: VVVV:DDDD (vendor:device) or VVVV:DDDD:SVVV:SDDD (with the subsystem\'s), in hex; may be repeated' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -l driver -d 'The stub, as for detach: `vfio` (default), `xen`, or a driver name' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -l json -d 'Print JSON'
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand preflight" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -f -a "normalize" -d 'Parse a node-device document and print it in libvirt\'s canonical form'
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and not __fish_seen_subcommand_from normalize help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from normalize" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from normalize" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from normalize" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from normalize" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from normalize" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from normalize" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from normalize" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from normalize" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from normalize" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from normalize" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from help" -f -a "normalize" -d 'Parse a node-device document and print it in libvirt\'s canonical form'
complete -c nodedev -n "__fish_nodedev_using_subcommand xml; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodedev -n "__fish_nodedev_using_subcommand apply" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand apply" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand apply" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand apply" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand apply" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand apply" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand apply" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand apply" -l force -d 'Detach even what the tool refuses to protect the host'
complete -c nodedev -n "__fish_nodedev_using_subcommand apply" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodedev -n "__fish_nodedev_using_subcommand apply" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -f -a "qemu" -d 'What libvirtd runs: /etc/libvirt/hooks/qemu.d/* DOMAIN OPERATION SUB-OPERATION EXTRA, with the domain XML on standard input'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -f -a "install" -d 'Put the hook into DIR/qemu.d/ (idempotent; libvirtd reads hooks when it starts)'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -f -a "uninstall" -d 'Remove the hook from DIR/qemu.d/'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and not __fish_seen_subcommand_from qemu install uninstall help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from qemu" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from qemu" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from qemu" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from qemu" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from qemu" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from qemu" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from qemu" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from qemu" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from qemu" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from qemu" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from install" -l dir -d 'libvirt\'s hook directory' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from install" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from install" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from install" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from install" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from install" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from install" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from install" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from install" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from install" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from uninstall" -l dir -d 'libvirt\'s hook directory' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from uninstall" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from uninstall" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from uninstall" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from uninstall" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from uninstall" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from uninstall" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from uninstall" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from uninstall" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from uninstall" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "qemu" -d 'What libvirtd runs: /etc/libvirt/hooks/qemu.d/* DOMAIN OPERATION SUB-OPERATION EXTRA, with the domain XML on standard input'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "install" -d 'Put the hook into DIR/qemu.d/ (idempotent; libvirtd reads hooks when it starts)'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "uninstall" -d 'Remove the hook from DIR/qemu.d/'
complete -c nodedev -n "__fish_nodedev_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -f -a "list" -d 'Show the persistent assignments, with what sits at each address now'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -f -a "remove" -d 'Forget devices\' assignments without touching the devices now (an address also works for a card that is gone)'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and not __fish_seen_subcommand_from list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from list" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from list" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from list" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from list" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from list" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from list" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from list" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from remove" -l id -d 'Every PCI function with these ids: VVVV:DDDD (vendor:device) or VVVV:DDDD:SVVV:SDDD (with the subsystem\'s), in hex; may be repeated' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from remove" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from remove" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from remove" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from remove" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from remove" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from remove" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from remove" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from help" -f -a "list" -d 'Show the persistent assignments, with what sits at each address now'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Forget devices\' assignments without touching the devices now (an address also works for a card that is gone)'
complete -c nodedev -n "__fish_nodedev_using_subcommand persist; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l udev -d 'The udev rule\'s question for one device (its sysfs name, udev\'s `$kernel`): prints NODEDEV_SHIM_DRIVER=DRIVER when its assignment is usable and the device is the one assigned; writes nothing' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l initramfs-copy -d 'Where the initramfs\'s copy of the assignments is (its init-bottom script leaves it there), to give back what an out-of-date initramfs assigned' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l dev-vfio -d 'Where the VFIO group nodes are' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l kernel-log -d 'Where `--udev` logs a device it refuses (the kernel log, seen even in the initramfs)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -l early -d 'Before udev\'s coldplug (the initramfs, nodedev-shim-early.service): name the stub in driver_override of every assigned device no driver has yet; nothing else is written'
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand boot" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand check" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand check" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand check" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand check" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand check" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand check" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand check" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand check" -s v -l verbose -d 'Print every device compared, not only the ones that differ'
complete -c nodedev -n "__fish_nodedev_using_subcommand check" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand check" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand check" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l device -d 'Only this device\'s events (a node-device name)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l event -d 'The event type to wait for (virsh requires one; see --all)' -r -f -a "lifecycle\t'A device appeared (`Created`) or went away (`Deleted`)'
update\t'A device that libvirt (or this tool) already knew changed'"
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l timeout -d 'Stop after this many seconds' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l source -d 'Which uevents to read: udevd\'s (after its rules ran, as libvirt reads them), the kernel\'s own, or udevd\'s when udevd runs (auto)' -r -f -a "auto\t'udevd\'s when udevd runs, else the kernel\'s'
kernel\t'The kernel\'s (netlink group 1)'
udev\t'udevd\'s (netlink group 2)'"
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l all -d 'Both event types'
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l loop -d 'Keep printing events until the timeout, rather than stopping after the first'
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l timestamp -d 'Put a timestamp before each event'
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -l list -d 'List the event types and exit'
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodedev -n "__fish_nodedev_using_subcommand event" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand virsh" -l connect -d 'Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs: list, dumpxml, info, detach, reattach, reset, check and event. Needs a build with the libvirt backend (`nodedev --version` says); refused inside the hook' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand virsh" -l root -d 'Read the device tree under this directory, or from a `nodedev snapshot` tar, instead of `/`' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand virsh" -l pci-ids -d 'The pci.ids database for vendor and product names (default: the system\'s)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand virsh" -l config-dir -d 'Where persistent assignments live (`detach --persistent`, `persist`, `boot`)' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand virsh" -l state-dir -d 'Where records of detached devices and lock files live' -r -F
complete -c nodedev -n "__fish_nodedev_using_subcommand virsh" -l unbind-timeout -d 'How long an unbind may take before the tool reports who holds the device (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand virsh" -l lock-timeout -d 'How long to wait for another nodedev operation on the same device before giving up and naming it (seconds, or a number with `ms` or `s`)' -r
complete -c nodedev -n "__fish_nodedev_using_subcommand virsh" -s q -l quiet -d 'Quiet: leave out the success messages and the blank line virsh prints after every command'
complete -c nodedev -n "__fish_nodedev_using_subcommand virsh" -s h -l help -d 'Print help'
complete -c nodedev -n "__fish_nodedev_using_subcommand virsh" -s V -l version -d 'Print version'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "list" -d 'Enumerate devices on this host (virsh nodedev-list)'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "dumpxml" -d 'Print a device\'s XML description (virsh nodedev-dumpxml)'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "info" -d 'Print basic information about a device (virsh nodedev-info)'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "detach" -d 'Detach devices from their host drivers to a stub (virsh nodedev-detach)'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "reattach" -d 'Give devices back to their host drivers (virsh nodedev-reattach)'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "reset" -d 'Reset devices with the kernel\'s function reset (virsh nodedev-reset)'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "snapshot" -d 'Write the sysfs subset this tool reads into a tar, for bug reports and `--root`'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "groups" -d 'Every IOMMU group, its members, and whether VFIO can use it now'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "preflight" -d 'What a detach would do and whether the host survives it; writes nothing'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "xml" -d 'Work with node-device XML documents'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "apply" -d 'Detach or reattach every PCI host device of a domain document'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "hook" -d 'The libvirt hook entry point, and its installation'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "persist" -d 'Persistent assignments: the devices put on a stub at every boot'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "boot" -d 'Put every persistently assigned device on its stub (the boot unit runs this); `--udev BDF` answers the udev rule'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "check" -d 'Compare every device\'s XML with libvirt\'s (the daemon at --connect, else libvirt\'s default URI): a diff per device that differs, exit 1 if any does'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "event" -d 'Wait for node-device events and print them as `virsh nodedev-event` does: from the kernel\'s uevents, or from libvirt with --connect'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "virsh" -d 'virsh\'s command line (`nodedev virsh nodedev-detach pci_…`), for scripts written for virsh; also what runs when this binary is invoked as `virsh`'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and not __fish_seen_subcommand_from list dumpxml info detach reattach reset snapshot groups preflight xml apply hook persist boot check event virsh help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and __fish_seen_subcommand_from xml" -f -a "normalize" -d 'Parse a node-device document and print it in libvirt\'s canonical form'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "qemu" -d 'What libvirtd runs: /etc/libvirt/hooks/qemu.d/* DOMAIN OPERATION SUB-OPERATION EXTRA, with the domain XML on standard input'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "install" -d 'Put the hook into DIR/qemu.d/ (idempotent; libvirtd reads hooks when it starts)'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "uninstall" -d 'Remove the hook from DIR/qemu.d/'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and __fish_seen_subcommand_from persist" -f -a "list" -d 'Show the persistent assignments, with what sits at each address now'
complete -c nodedev -n "__fish_nodedev_using_subcommand help; and __fish_seen_subcommand_from persist" -f -a "remove" -d 'Forget devices\' assignments without touching the devices now (an address also works for a card that is gone)'
