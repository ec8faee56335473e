#!/usr/bin/env bash
# Benchmark (not a test): nodedev list / dumpxml --all against lspci on one generated
# tree of N PCI functions, in one hyperfine run. Prints a Markdown table and the
# machine it ran on; docs/benchmarks.md records the results.
#
#   tests/bench/listing.sh [FUNCTIONS]     (default 4096)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-4096}"
cache="${NODEDEV_CACHE:-$HOME/.cache/nodedev-shim}/bench"
tree="$cache/tree-$n"
mkdir -p "$cache"

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v lspci >/dev/null || need+=(pciutils)
[ -f /usr/share/misc/pci.ids ] || need+=(pci.ids)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi
[ -d "$tree/sys/bus/pci/devices" ] || python3 tests/bench/gen-tree.py "$n" "$tree" >&2

cargo build --release -q -p nodedev-cli
bin="$PWD/target/release/nodedev"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "tree: $(ls "$tree/sys/bus/pci/devices" | wc -l) PCI functions ($tree)"
echo "versions: $("$bin" --version), $(lspci --version)"
hyperfine --warmup 2 --min-runs 10 --export-markdown "$cache/listing.md" --style basic \
  -n "nodedev list" "$bin --root $tree list" \
  -n "nodedev list --tree" "$bin --root $tree list --tree" \
  -n "nodedev dumpxml --all" "$bin --root $tree dumpxml --all" \
  -n "lspci -D -nnk" "lspci -D -nnk -A linux-sysfs -O sysfs.path=$tree/sys/bus/pci" >&2
cat "$cache/listing.md"
