# Guest script: detach then reattach 32 e1000e functions to vfio-pci, three ways:
#   (a) one `nodedev detach` of all 32 (a batch, done in parallel),
#   (b) 32 sequential `nodedev detach` calls,
#   (c) a shell loop doing only the three raw sysfs writes per device (the floor).
# Prints "TIME <case> <detach-ms> <reattach-ms>" lines into out/bench.txt.
. ./lib.sh
# From tmpfs, as from a disk: exec over 9p costs ~100 ms under TCG.
cp ./nodedev /tmp/nodedev
N="/tmp/nodedev -q --state-dir /run/nodedev-shim"
devs=$(for d in /sys/bus/pci/devices/*; do
  [ "$(cat $d/vendor):$(cat $d/device)" = "0x8086:0x10d3" ] && basename $d
done | head -n 32)
count=$(echo "$devs" | wc -w)
names=$(for b in $devs; do echo "pci_$(echo $b | tr ':.' '__')"; done)
now() { cut -d' ' -f1 /proc/uptime | tr -d .; }   # centiseconds
all_on() { for b in $devs; do [ "$(driver_of $b)" = "$1" ] || return 1; done; }
ms() { echo $(( ($2 - $1) * 10 )); }

for round in 1 2 3; do
  t0=$(now); $N detach $names; t1=$(now)
  all_on vfio-pci || fail "bench-a-$round" "not all on vfio-pci"
  $N reattach $names; t2=$(now)
  all_on e1000e || fail "bench-a-$round" "not all back"
  echo "TIME a $(ms $t0 $t1) $(ms $t1 $t2)" >> out/bench.txt

  t0=$(now); for n in $names; do $N detach $n; done; t1=$(now)
  all_on vfio-pci || fail "bench-b-$round" "not all on vfio-pci"
  for n in $names; do $N reattach $n; done; t2=$(now)
  all_on e1000e || fail "bench-b-$round" "not all back"
  echo "TIME b $(ms $t0 $t1) $(ms $t1 $t2)" >> out/bench.txt

  t0=$(now)
  for b in $devs; do
    echo vfio-pci > /sys/bus/pci/devices/$b/driver_override
    echo $b > /sys/bus/pci/devices/$b/driver/unbind
    echo $b > /sys/bus/pci/drivers_probe
  done
  t1=$(now)
  all_on vfio-pci || fail "bench-c-$round" "not all on vfio-pci"
  for b in $devs; do
    echo > /sys/bus/pci/devices/$b/driver_override
    echo $b > /sys/bus/pci/devices/$b/driver/unbind
    echo $b > /sys/bus/pci/drivers_probe
  done
  t2=$(now)
  all_on e1000e || fail "bench-c-$round" "not all back"
  echo "TIME c $(ms $t0 $t1) $(ms $t1 $t2)" >> out/bench.txt
done
echo "devices $count" >> out/bench.txt
pass bench
