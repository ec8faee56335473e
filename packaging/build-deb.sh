#!/usr/bin/env bash
# Builds the Debian package: nodedev-shim_VERSION-1_amd64.deb.
#   1. man pages and bash/zsh/fish completions generated from nodedev's clap
#      definitions (`cargo run -p xtask -- assets`), man pages gzipped (-9n);
#   2. cargo-deb (tests/setup/cargo-deb.sh installs it into the cache) builds
#      the release binary and the package from crates/nodedev-cli's
#      [package.metadata.deb]: binary, man pages, completions, udev rule,
#      systemd units, initramfs-tools hook and scripts, docs.
# Prints the .deb's path. OUT (default target/debian) is where it goes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/debian}
cargo_deb=$(tests/setup/cargo-deb.sh)
gen=packaging/debian/generated
rm -rf "$gen"
cargo run -q --locked -p xtask -- assets "$gen" >/dev/null
gzip -9n "$gen"/man/*.1
mkdir -p "$out"
"$cargo_deb" deb -q --locked -p nodedev-cli --output "$out" >&2
ls -t "$out"/nodedev-shim_*.deb | head -n 1
