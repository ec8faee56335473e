#!/usr/bin/env bash
# The oracle on this host, read-only: a private libvirtd 9.0 with the node-device
# driver only, from the libvirt root (libvirt-root.sh), compared with `nodedev` for
# every device it lists (list, --tree, --cap X, dumpxml, nodedev-info). This host has
# no udevd and no udev database: libvirt's no-udev case (a container, this machine).
#
#   host-oracle.sh [NODEDEV_BINARY [NODEDEV_LIBVIRT_BINARY]]
#                  (defaults: build-static.sh's and build-libvirt.sh's)
#
# Isolation: a private mount namespace (unshare -m), the libvirt root as an overlayfs
# lower layer under a tmpfs, chrooted; /run in it is a fresh tmpfs, so the daemon's
# socket (/run/libvirt/libvirt-sock) exists only there; /sys is bound read-only;
# libvirtd gets no --listen (no TCP) and LIBVIRT_DRIVER_DIR with the node-device
# driver alone. nodedev runs outside the chroot with read-only commands only.
# Prints one line per item ("PASS host-oracle/…", "FAIL …" with its diff,
# "KNOWN-DIFF …") and "host-oracle: N matched, M differed, K known differences";
# exits 1 when anything differed. RIG_KEEP_HOST_ORACLE_OUT=DIR keeps the outputs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" != --inside ]; then
  bin=${1:-$("$here/build-static.sh")} || { echo "host-oracle: static build failed" >&2; exit 1; }
  binlv=${2:-$("$here/build-libvirt.sh")} || { echo "host-oracle: the libvirt build failed" >&2; exit 1; }
  lvroot=$("$here/libvirt-root.sh") || { echo "FAIL host-oracle/libvirt-root"; exit 1; }
  exec unshare -m --propagation private "$0" --inside "$bin" "$lvroot" "$binlv"
fi
bin=$2 lvroot=$3 binlv=$4
work=$(mktemp -d)
cleanup() {
  [ -f "$work/m/run/libvirtd.pid" ] && kill "$(cat "$work/m/run/libvirtd.pid")" 2>/dev/null
  sleep 0.5
  if [ -n "${RIG_KEEP_HOST_ORACLE_OUT:-}" ]; then
    rm -rf "$RIG_KEEP_HOST_ORACLE_OUT"; cp -r "$work/cmp" "$RIG_KEEP_HOST_ORACLE_OUT"
  fi
  umount -R "$work/m" 2>/dev/null; umount "$work/up" 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work"/{up,m,cmp}
mount -t tmpfs tmpfs "$work/up" && mkdir -p "$work/up/u" "$work/up/w"
mount -t overlay overlay -o "lowerdir=$lvroot,upperdir=$work/up/u,workdir=$work/up/w" "$work/m" ||
  { echo "FAIL host-oracle/setup: overlayfs mount failed"; exit 1; }
mount --rbind /proc "$work/m/proc"
mount --rbind /dev "$work/m/dev"
mount --rbind /sys "$work/m/sys" && mount -o remount,bind,ro "$work/m/sys"
mount -t tmpfs tmpfs "$work/m/run"
# One pci.ids for both (libvirt reads it through libpciaccess, nodedev itself): the
# host's, or none when the host has none.
if [ -f /usr/share/misc/pci.ids ]; then
  mount --bind -o ro /usr/share/misc/pci.ids "$work/m/usr/share/misc/pci.ids"
else
  rm -f "$work/m/usr/share/misc/pci.ids"
fi
mount -t tmpfs tmpfs "$work/m/tmp"
LV=$work/m
export LC_ALL=C
# The node-device driver alone answers no default URI: name it.
V() { LIBVIRT_DRIVER_DIR=/oracle/drivers-host PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$LV" /usr/bin/virsh -c nodedev:///system "$@"; }
LIBVIRT_DRIVER_DIR=/oracle/drivers-host PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$LV" /usr/sbin/libvirtd -d
for _ in $(seq 100); do [ -S "$LV/run/libvirt/libvirt-sock" ] && break; sleep 0.1; done
N="$bin"
cd "$work/cmp" || exit 1
cp "$here/guest/tree.awk" "$here/guest/oracle-pending.txt" .
RESULTS=$work/cmp/out/results.txt
mkdir -p out
pass() { echo "PASS $1" >> "$RESULTS"; }
fail() { echo "FAIL $1: $2" >> "$RESULTS"; }
if ! V nodedev-list --cap system > out/ready.txt 2>&1; then
  echo "FAIL host-oracle/setup: the private libvirtd did not answer: $(cat out/ready.txt; tail -n 3 "$LV/run/libvirtd.log")"
  exit 1
fi
ORACLE_TAG=host-oracle
# shellcheck source=guest/oracle-lib.sh
. "$here/guest/oracle-lib.sh"
oracle_inventory
# Through libvirt: the libvirt build of nodedev (dynamically linked) runs in the
# chroot, where Debian's libvirt0 is, against the same daemon as virsh.
cp "$binlv" "$LV/tmp/nodedev-libvirt"
URI=nodedev:///system
VC() { V "$@"; }
NC="chroot_lv /tmp/nodedev-libvirt"
chroot_lv() { LIBVIRT_DRIVER_DIR=/oracle/drivers-host PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$LV" "$@"; }
oracle_connect "$URI"
# `nodedev check` against the same daemon: every device both list, 0 differences.
if chroot_lv /tmp/nodedev-libvirt --connect "$URI" check > out/o/check.txt 2>&1; then
  pass "host-oracle/check ($(tail -n 1 out/o/check.txt))"
else
  fail host-oracle/check "$(grep -m1 -E '^(DIFFERS|ONLY|error)' out/o/check.txt)"
fi
# Events through libvirt's event API against the real daemon: nothing happens on
# this machine's devices (and this daemon has no udev), so both wait out the
# timeout the same way; what is compared is that registration, the loop and the
# ending work against libvirtd as virsh's do (the events themselves are in the
# guest oracle).
for t in lifecycle update; do
  capture_whole out/o/lvc V nodedev-event --event $t --timeout 2
  capture_whole out/o/ndc $NC --connect "$URI" event --event $t --timeout 2
  verdict "connect/event-timeout/$t" out/o/lvc.txt out/o/ndc.txt
done
capture_whole out/o/lvc V nodedev-event --event lifecycle --device pci_0000_0f_1f_0 --timeout 1
capture_whole out/o/ndc $NC --connect "$URI" event --event lifecycle --device pci_0000_0f_1f_0 --timeout 1
verdict connect/event-unknown-device out/o/lvc.txt out/o/ndc.txt
# virsh mode's nodedev-event (-c URI: through libvirt) and its option errors.
i=0 # numbered: the arguments alone may repeat across lines
while IFS= read -r args; do
  i=$((i + 1))
  # shellcheck disable=SC2086
  capture_whole out/o/lvc V $args
  # shellcheck disable=SC2086
  capture_whole out/o/ndc $NC virsh -c "$URI" $args
  verdict "connect/virsh-c/event-$i:$(echo "$args" | tr " =" "_:")" out/o/lvc.txt out/o/ndc.txt
done <<'ARGS'
nodedev-event --list
nodedev-event --event update --timeout 1
nodedev-event --event=lifecycle --loop --timeout 1 --timestamp
nodedev-event
nodedev-event --event nope
nodedev-event --event update --timeout 0
nodedev-event --event update --timeout x
nodedev-event computer
nodedev-event --event update pci_0000_0f_1f_0 --timeout 1
nodedev-event --event update --device pci_0000_0f_1f_0 --timeout 1
ARGS
# Ctrl-C ends `--loop`: virsh prints `event loop interrupted` and the count. Each
# listener runs in the background until it has a SIGINT handler (SigCgt), then
# gets SIGINT; virsh, nodedev --connect and virsh mode's -c compared.
int_run() { # OUT PATTERN CMD…
  ir_f=$1 ir_pat=$2; shift 2
  "$@" > "$ir_f.out" 2> "$ir_f.err" &
  ir_bg=$! ir_pid=""
  for _ in $(seq 1200); do
    ir_pid=$(pgrep -n -f "$ir_pat")
    if [ -n "$ir_pid" ]; then
      ir_mask=$(awk '/^SigCgt:/ {print $2}' "/proc/$ir_pid/status" 2>/dev/null)
      [ -n "$ir_mask" ] && [ $(( 0x$ir_mask & 2 )) -ne 0 ] && break
    fi
    sleep 0.05
  done
  kill -INT "$ir_pid" 2>/dev/null
  wait "$ir_bg"; echo $? > "$ir_f.rc"
}
int_run out/o/lvc "virsh -c $URI nodedev-event --loop" V nodedev-event --loop --event lifecycle
int_run out/o/ndc "nodedev-libvirt --connect $URI event --loop" $NC --connect "$URI" event --loop --event lifecycle
int_run out/o/ndv "nodedev-libvirt virsh -c $URI nodedev-event --loop" $NC virsh -c "$URI" nodedev-event --loop --event lifecycle
int_run out/o/nd "$N event --loop" $N event --loop --event lifecycle
for f in lvc ndc ndv nd; do whole out/o/$f; done
verdict event-interrupted out/o/lvc.txt out/o/nd.txt
verdict connect/event-interrupted out/o/lvc.txt out/o/ndc.txt
verdict connect/virsh-c/event-interrupted out/o/lvc.txt out/o/ndv.txt
# …and what was compared is the interrupt, not two processes killed alike.
if grep -qx 'event loop interrupted' out/o/lvc.out && grep -qx 'event loop interrupted' out/o/ndc.out; then
  pass host-oracle/connect/event-interrupted-line
else
  fail host-oracle/connect/event-interrupted-line "virsh: $(tr '\n' ' ' < out/o/lvc.txt); nodedev: $(tr '\n' ' ' < out/o/ndc.txt)"
fi
# No QEMU driver here: the daemon must not offer one (no other drivers).
if chroot "$LV" /usr/bin/virsh -c qemu:///system nodedev-list > out/o/qemu.txt 2>&1; then
  fail host-oracle/only-nodedev-driver "a qemu:///system connection worked"
else
  pass host-oracle/only-nodedev-driver
fi
while read -r status name rest; do
  echo "$status $name $rest"
  case "$status" in
    FAIL) sed 's/^/    /' "out/diffs/$(echo "${name%:}" | sed 's|^host-oracle/||' | tr '/ ' '__').diff" 2>/dev/null | head -n 60;;
  esac
done < "$RESULTS"
echo "host-oracle: $matched matched, $differed differed, $known known differences"
echo "host-oracle: $(grep -c '^PASS' "$RESULTS") passed, $(grep -c '^FAIL' "$RESULTS") failed"
[ "$differed" -eq 0 ] && ! grep -q '^FAIL' "$RESULTS"
