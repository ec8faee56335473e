# Guest script: capture a `nodedev snapshot` of this guest's sysfs, plus a plain
# facts file for checking the golden outputs by hand. NAME comes from ./name.
. ./lib.sh
name=$(cat ./name)
# SR-IOV: 2 VFs on the igb and on the nvme (in both boots: SR-IOV needs no IOMMU).
for pf in 0000:02:00.0 0000:03:00.0; do
  [ -e /sys/bus/pci/devices/$pf/sriov_numvfs ] && echo 2 > /sys/bus/pci/devices/$pf/sriov_numvfs
done
sleep 1
# igbvf gives each VF a random MAC at every boot; pin them (locally administered,
# 02:00:00:00:<pf bus>:1<vf index>) so a re-capture only differs where sysfs does.
for pf in /sys/bus/pci/devices/*; do
  for v in "$pf"/virtfn*; do
    [ -d "$v/net" ] || continue
    for n in "$v"/net/*; do
      ip link set dev "$(basename "$n")" address \
        "02:00:00:00:$(basename "$pf" | cut -c6-7):1$(basename "$v" | tr -dc 0-9)"
    done
  done
done
./nodedev snapshot "out/$name.tar" && pass "snapshot $name" || fail "snapshot $name" "nodedev snapshot failed"
{
  echo "# facts of the guest, captured with busybox alongside $name.tar"
  uname -r
  for d in /sys/bus/pci/devices/*; do
    b=$(basename "$d")
    echo "== $b"
    echo "ids $(cat $d/vendor):$(cat $d/device) sub $(cat $d/subsystem_vendor):$(cat $d/subsystem_device) class $(cat $d/class)"
    echo "path $(readlink -f $d)"
    echo "driver $(basename "$(readlink $d/driver 2>/dev/null)" 2>/dev/null)"
    echo "group $(basename "$(readlink $d/iommu_group 2>/dev/null)" 2>/dev/null) numa $(cat $d/numa_node 2>/dev/null)"
    [ -e $d/physfn ] && echo "physfn $(basename $(readlink $d/physfn))"
    for v in $d/virtfn*; do [ -e "$v" ] && echo "$(basename $v) $(basename $(readlink $v))"; done
    [ -e $d/sriov_totalvfs ] && echo "sriov_totalvfs $(cat $d/sriov_totalvfs)"
    [ -e $d/reset_method ] && echo "reset_method $(cat $d/reset_method)"
    echo "config $(head -c 64 $d/config | hexdump -v -e '16/1 "%02x " " "')"
  done
  # find lists in readdir order, which is what libvirt prints group members in.
  for g in /sys/kernel/iommu_groups/*; do echo "group $(basename $g): $(find $g/devices -mindepth 1 -maxdepth 1 | sed 's,.*/,,' | tr '\n' ' ')"; done
  for n in /sys/class/net/*; do echo "net $(basename $n) $(cat $n/address) $(cat $n/operstate) -> $(readlink -f $n)"; done
} > "out/$name.guest-facts.txt"
./nodedev list --tree > "out/$name.tree-in-guest.txt"
