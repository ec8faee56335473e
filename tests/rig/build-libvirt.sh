#!/usr/bin/env bash
# Builds nodedev with the libvirt backend (`--features libvirt`), dynamically linked
# (libvirt.so.0 cannot be linked statically), in a target directory of its own under
# the rig cache, and prints the path of a copy named `nodedev-libvirt`. It runs where
# libvirt0 is: on this machine (libvirt-dev, installed by tests/setup), and in the
# oracle's libvirt root (Debian bookworm's libvirt0 and glibc, the same as this
# machine's), chrooted into in the guest and by host-oracle.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache="${NODEDEV_CACHE:-$HOME/.cache/nodedev-shim}/rig"
export CARGO_TARGET_DIR="$cache/target-libvirt-$(cd "$here/../.." && pwd | sha256sum | cut -c1-12)"
cargo build -q --release --locked --manifest-path "$here/../../Cargo.toml" \
  -p nodedev-cli --features libvirt --bin nodedev >&2
cp "$CARGO_TARGET_DIR/release/nodedev" "$CARGO_TARGET_DIR/release/nodedev-libvirt.new"
mv "$CARGO_TARGET_DIR/release/nodedev-libvirt.new" "$CARGO_TARGET_DIR/release/nodedev-libvirt"
echo "$CARGO_TARGET_DIR/release/nodedev-libvirt"
