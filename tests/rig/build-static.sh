#!/usr/bin/env bash
# Builds the nodedev binary statically (glibc crt-static) for the guest, in a target
# directory of its own under the rig cache, and prints its path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache="${NODEDEV_CACHE:-$HOME/.cache/nodedev-shim}/rig"
# One target directory per checkout: cargo does not re-copy the final binary when
# another checkout last wrote it, so a shared one could hand out a stale binary.
export CARGO_TARGET_DIR="$cache/target-$(cd "$here/../.." && pwd | sha256sum | cut -c1-12)"
# --target keeps RUSTFLAGS away from build scripts and proc macros.
# The lane's lock holder (examples/hold_lock.rs) is built beside it, in examples/.
RUSTFLAGS='-C target-feature=+crt-static' cargo build -q --release --locked \
  --manifest-path "$here/../../Cargo.toml" --target x86_64-unknown-linux-gnu \
  -p nodedev-cli -p hostdev-manager --bin nodedev --example hold_lock >&2
echo "$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/nodedev"
