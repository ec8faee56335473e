# Guest script: files on a real kernel (issue 11). `nodedev snapshot` never
# replaces a device node, FIFO or link, streams into character devices and pipes,
# writes 0600 files without root-only serials unless asked, and what it writes
# reads back; `--pci-ids` and `--root` refuse devices and FIFOs at once.
# Each check writes "PASS files/NAME" or "FAIL files/NAME: why" (see lib.sh).
. ./lib.sh
cp ./nodedev /tmp/nodedev
N=/tmp/nodedev
T=/tmp/files
rm -rf "$T"; mkdir -p "$T"
# A Linux system has /dev/stdout -> /proc/self/fd/1 (udev or the initramfs makes
# it); devtmpfs alone does not, so make it as they do.
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout

check() { # NAME CONDITION-COMMAND... : PASS if the command succeeds, else FAIL with $why
  c_name=$1; shift
  if "$@"; then pass "files/$c_name"; else fail "files/$c_name" "${why:-check failed}"; fi
}

# /dev/null stays a character device.
$N snapshot /dev/null 2> "$T/null.err"; rc=$?
why="exit $rc: $(head -c 200 "$T/null.err"); now: $(ls -l /dev/null)"
check snapshot-dev-null-stays-a-device test "$rc" = 0 -a -c /dev/null

# /dev/stdout into a pipe: tar reads the snapshot.
{ $N snapshot /dev/stdout 2> "$T/stdout.err"; echo $? > "$T/stdout.rc"; } | tar t > "$T/stdout.list"; trc=$?
why="nodedev exit $(cat "$T/stdout.rc"), tar exit $trc: $(head -c 200 "$T/stdout.err")"
check snapshot-dev-stdout-into-tar test "$(cat "$T/stdout.rc")" = 0 -a "$trc" = 0
why="$(wc -l < "$T/stdout.list") members, no sys/bus/pci/devices/0000:00:01.0"
check snapshot-dev-stdout-lists-devices grep -qx "sys/bus/pci/devices/0000:00:01.0" "$T/stdout.list"

# A new file: mode 0600, reads back as the live tree does.
$N snapshot "$T/snap.tar" 2> "$T/snap.err"; rc=$?
why="exit $rc: $(head -c 200 "$T/snap.err")"
check snapshot-new-file test "$rc" = 0
why="mode $(stat -c %a "$T/snap.tar")"
check snapshot-mode-0600 test "$(stat -c %a "$T/snap.tar")" = 600
$N list --tree > "$T/live.tree" 2>&1
$N --root "$T/snap.tar" list --tree > "$T/snap.tree" 2>&1
why="$(diff "$T/live.tree" "$T/snap.tree" | head -c 300 | tr '\n' '|')"
check snapshot-reads-back-list-tree cmp -s "$T/live.tree" "$T/snap.tree"

# Root-only DMI identifiers: left out by default, kept with --include-serials, and
# then every document reads back byte for byte.
$N snapshot --include-serials "$T/full.tar" 2> "$T/full.err"
tar tf "$T/snap.tar" > "$T/snap.list"; tar tf "$T/full.tar" > "$T/full.list"
leaked="" missing="" kept=""
for a in product_serial product_uuid board_serial chassis_serial; do
  grep -q "dmi/id/$a\$" "$T/snap.list" && leaked="$leaked $a"
done
# The two the tool reads (libvirt's <serial> and <uuid>), when this machine has them.
for a in product_serial product_uuid; do
  [ -r "/sys/devices/virtual/dmi/id/$a" ] || continue
  if grep -q "dmi/id/$a\$" "$T/full.list"; then kept="$kept $a"; else missing="$missing $a"; fi
done
why="in the default snapshot:$leaked"
check snapshot-leaves-out-serials test -z "$leaked"
why="missing with --include-serials:$missing (kept:$kept)"
check snapshot-include-serials-keeps-them test -z "$missing" -a -n "$kept"
$N dumpxml --all > "$T/live.xml" 2>&1
$N --root "$T/full.tar" dumpxml --all > "$T/full.xml" 2>&1
why="$(diff "$T/live.xml" "$T/full.xml" | head -c 300 | tr '\n' '|')"
check snapshot-with-serials-reads-back-dumpxml-all cmp -s "$T/live.xml" "$T/full.xml"

# Never replaced: a link to a file, an existing OUT.partial.
echo victim > "$T/victim"; ln -s "$T/victim" "$T/link.tar"
$N snapshot "$T/link.tar" 2> "$T/link.err"; rc=$?
why="exit $rc; link: $(ls -l "$T/link.tar"); victim: $(head -c 50 "$T/victim")"
check snapshot-refuses-a-link-to-a-file test "$rc" = 1 -a -L "$T/link.tar" -a "$(cat "$T/victim")" = victim
echo old > "$T/p.tar"; echo someone > "$T/p.tar.partial"
$N snapshot "$T/p.tar" 2> "$T/partial.err"; rc=$?
why="exit $rc: $(head -c 200 "$T/partial.err")"
check snapshot-refuses-an-existing-partial test "$rc" = 1 -a "$(cat "$T/p.tar")" = old -a "$(cat "$T/p.tar.partial")" = someone

# A FIFO: written through, still a FIFO.
mkfifo "$T/fifo"
tar t < "$T/fifo" > "$T/fifo.list" &
reader=$!
$N snapshot "$T/fifo" 2> "$T/fifo.err"; rc=$?
wait "$reader"
why="exit $rc: $(head -c 200 "$T/fifo.err"); $(wc -l < "$T/fifo.list") members"
check snapshot-streams-into-a-fifo test "$rc" = 0 -a -p "$T/fifo" -a -s "$T/fifo.list"

# Inputs that are devices or FIFOs: refused at once (the timeout only guards a hang).
timeout 60 $N --pci-ids /dev/zero dumpxml pci_0000_00_01_0 > /dev/null 2> "$T/ids.err"; rc=$?
why="exit $rc: $(head -c 200 "$T/ids.err")"
check pci-ids-dev-zero-refused test "$rc" = 1
timeout 60 $N --root "$T/fifo" list > /dev/null 2> "$T/rootfifo.err"; rc=$?
why="exit $rc: $(head -c 200 "$T/rootfifo.err")"
check root-fifo-refused test "$rc" = 1
timeout 60 $N xml normalize "$T/fifo" > /dev/null 2> "$T/xmlfifo.err"; rc=$?
why="exit $rc: $(head -c 200 "$T/xmlfifo.err")"
check xml-fifo-refused test "$rc" = 1
