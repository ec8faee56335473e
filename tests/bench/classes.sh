#!/usr/bin/env bash
# Benchmark (not a test), issue 13: nodedev list / list --tree / dumpxml --all on one
# generated tree of 4,096 PCI functions, 4,096 SCSI disks and 1,024 USB devices
# (tests/bench/gen-tree.py), against the tools that read the same classes from a
# sysfs tree: lspci -D -nnk (PCI) and lsblk --sysroot (disks). lsusb cannot read a
# generated tree: libusb finds devices through libudev, which accepts only
# directories on a real sysfs (it checks the filesystem type). One hyperfine run;
# prints a Markdown table and the machine it ran on (docs/benchmarks.md).
#
#   tests/bench/classes.sh [FUNCTIONS DISKS USB]     (default 4096 4096 1024)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-4096}" disks="${2:-4096}" usb="${3:-1024}"
cache="${NODEDEV_CACHE:-$HOME/.cache/nodedev-shim}/bench"
tree="$cache/tree-$n-$disks-$usb"
mkdir -p "$cache"

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v lspci >/dev/null || need+=(pciutils)
command -v lsblk >/dev/null || need+=(util-linux)
[ -f /usr/share/misc/pci.ids ] || need+=(pci.ids)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi
[ -d "$tree/sys/bus/pci/devices" ] || python3 tests/bench/gen-tree.py "$n" "$tree" "$disks" "$usb" >&2

cargo build --release -q -p nodedev-cli
bin="$PWD/target/release/nodedev"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "tree: $(ls "$tree/sys/bus/pci/devices" | wc -l) PCI functions, $(ls "$tree/sys/class/block" | wc -l) disks, $(ls "$tree/sys/bus/usb/devices" | grep -vc :) USB devices ($tree)"
echo "nodedev lists $("$bin" --root "$tree" list | grep -c .) devices"
echo "versions: $("$bin" --version), $(lspci --version), $(lsblk --version)"
hyperfine --warmup 1 --min-runs 10 --export-markdown "$cache/classes.md" --export-json "$cache/classes.json" --style basic \
  -n "nodedev list" "$bin --root $tree list" \
  -n "nodedev list --tree" "$bin --root $tree list --tree" \
  -n "nodedev dumpxml --all" "$bin --root $tree dumpxml --all" \
  -n "lspci -D -nnk" "lspci -D -nnk -A linux-sysfs -O sysfs.path=$tree/sys/bus/pci" \
  -n "lsblk" "lsblk --sysroot $tree" \
  -n "lspci -D -nnk + lsblk" "lspci -D -nnk -A linux-sysfs -O sysfs.path=$tree/sys/bus/pci; lsblk --sysroot $tree" >&2
cat "$cache/classes.md"
# CPU time (user + system) as well: on a shared machine the wall clock also
# counts waiting for a core; the ratios of CPU time do not.
python3 - "$cache/classes.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
cpu = {k: (v["user"] + v["system"]) * 1000 for k, v in r.items()}
wall = {k: v["mean"] * 1000 for k, v in r.items()}
peers = "lspci -D -nnk + lsblk"
print("\n| Command | wall [ms] | CPU [ms] | wall / peers' | CPU / peers' |\n|:---|---:|---:|---:|---:|")
for k in r:
    print(f"| `{k}` | {wall[k]:.0f} | {cpu[k]:.0f} | {wall[k] / wall[peers]:.2f} | {cpu[k] / cpu[peers]:.2f} |")
PY
