#!/usr/bin/env bash
# Benchmark (not a test): how long `nodedev` takes, and how much memory, on hostile
# XML (issue 11). Each document comes from tests/bench/hostile-xml.py; each run is
# capped at LIMIT seconds (a run that hits it is reported as "killed").
#
#   tests/bench/hostile-xml.sh [LIMIT]       (default 120)
#
# Node-device documents go through `nodedev xml normalize -` (the release binary).
# Domain documents go through `read_stdin domain` (crates/nodedev-xml/examples):
# `nodedev_xml::domain_hostdevs`, the reader the libvirt hook runs on its standard
# input before anything else. (The hook itself needs the live kernel: it refuses
# `--root`, and a benchmark never runs it against this machine's /sys.)
# docs/benchmarks.md records the results.
set -euo pipefail
cd "$(dirname "$0")/../.."
limit="${1:-120}"
cargo build --release -q -p nodedev-cli
cargo build --release -q -p nodedev-xml --example read_stdin
BIN="$PWD/target/release/nodedev"
READER="$PWD/target/release/examples/read_stdin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' + local changes')"
printf '| input | bytes | command | wall [s] | max RSS [MiB] | outcome |\n|---|---:|---|---:|---:|---|\n'
run() {
  local kind="$1" n="$2" doc="$work/doc.xml"
  python3 tests/bench/hostile-xml.py "$kind" "$n" >"$doc"
  local cmd
  case "$kind" in
    device-*) cmd=("$BIN" xml normalize -) ;;
    *) cmd=("$READER" domain) ;;
  esac
  local rc=0
  /usr/bin/time -o "$work/time" -f '%e %M' timeout "$limit" "${cmd[@]}" <"$doc" >/dev/null 2>"$work/err" || rc=$?
  read -r wall rss < <(tail -n 1 "$work/time") || true
  [ "$rc" = 124 ] && wall="killed at $limit"
  local outcome
  outcome="exit $rc: $(tail -n 1 "$work/err" | cut -c 1-90 | tr '|' '/')"
  printf '| %s %s | %s | `%s` | %s | %s | %s |\n' "$kind" "$n" "$(stat -c %s "$doc")" \
    "$(basename "${cmd[0]}") ${cmd[*]:1}" "$wall" "$(( ${rss:-0} / 1024 ))" "$outcome"
}
for n in 20000 200000 1500000; do run device-attrs "$n"; done
for n in 20000 200000 1500000; do run metadata-attrs "$n"; done
run metadata-ns 600000
run metadata-deep 200
run metadata-deep 1000000
run metadata-elems 2000000
run metadata-text 15000000
run device-text 15000000
