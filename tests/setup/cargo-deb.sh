#!/usr/bin/env bash
# Installs cargo-deb (the Debian package builder for Cargo projects, from
# crates.io) into the cache, idempotently: `cargo install --root` with a pinned
# version and its own lock file. Prints the binary's path.
set -euo pipefail
VERSION=3.8.0
root="${NODEDEV_CACHE:-$HOME/.cache/nodedev-shim}/tools/cargo-deb-$VERSION"
bin="$root/bin/cargo-deb"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$VERSION"; then
  echo "$bin"; exit 0
fi
echo "tests/setup/cargo-deb.sh: installing cargo-deb $VERSION into $root (a few minutes, once)" >&2
# Its own target directory, so the build does not touch the workspace's.
CARGO_TARGET_DIR="$root/build" cargo install -q --locked --root "$root" --version "$VERSION" cargo-deb >&2
rm -rf "$root/build"
"$bin" --version >&2
echo "$bin"
