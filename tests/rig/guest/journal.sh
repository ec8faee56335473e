# Guest script: nothing lost (issue 10), on the real kernel. kill -9 at a random
# instant of a detach (both methods), of a hook prepare with two hostdevs and of a
# group detach; after each kill the records must tell the truth about every device
# not where it started, and reattach (or the hook's release) must give everything
# back: driver, driver_override "(null)", no dynamic id (remove_id answers ENODEV),
# no record. Then: moving between stubs keeps the original driver, group and member
# detaches racing, a domain naming a device twice, and what `nobody` can do.
. ./lib.sh
[ -z "$(ls /sys/kernel/iommu_groups 2>/dev/null)" ] && exit 0   # needs vfio-pci
cp ./nodedev /tmp/nodedev
cp ./hold_lock /tmp/hold_lock
S=/run/nodedev-shim
N="/tmp/nodedev --state-dir $S --unbind-timeout 20"
KILLS=${JOURNAL_KILLS:-100}
name_of() { echo "pci_$(echo "$1" | tr ':.' '__')"; }
override_of() { cat "/sys/bus/pci/devices/$1/driver_override"; }

# not_home DEV ORIG: prints DEV when it is not on ORIG or has an override set.
not_home() {
  [ "$(driver_of "$1")" = "$2" ] && [ "$(override_of "$1")" = "(null)" ] || echo "$1"
}

# home NAME DEV ORIG: the device is back where it started, nothing left behind.
home() {
  why=""
  [ "$(driver_of "$2")" = "$3" ] || why="$why driver '$(driver_of "$2")'"
  [ "$(override_of "$2")" = "(null)" ] || why="$why override '$(override_of "$2")'"
  [ -e "$S/devices/$2.json" ] && why="$why record left"
  # remove_id answers ENODEV (and dd fails) unless the id is still registered.
  id="$(cut -c3- "/sys/bus/pci/devices/$2/vendor") $(cut -c3- "/sys/bus/pci/devices/$2/device")"
  for stub in vfio-pci pci-stub; do
    [ -e "/sys/bus/pci/drivers/$stub/remove_id" ] || continue
    printf '%s' "$id" | dd of="/sys/bus/pci/drivers/$stub/remove_id" 2>/dev/null &&
      why="$why id '$id' left in $stub"
  done
  [ -z "$why" ] && return 0
  echo "$1: $2:$why" >> out/journal-problems.txt
  return 1
}

# kill_loop TAG RESTORE DEV=ORIG… -- CMD…: runs CMD in the background, kills it
# after a random delay, checks the records, runs RESTORE, checks every device.
kill_loop() {
  tag=$1 restore=$2; shift 2
  devs=""
  while [ "$1" != "--" ]; do devs="$devs $1"; shift; done
  shift
  bad=0 killed=0 caught=0 max_us=${MAX_US:-90000}
  i=0
  while [ $i -lt "$KILLS" ]; do
    i=$((i + 1))
    "$@" > /dev/null 2>&1 &
    pid=$!
    usleep "$(shuf -i 0-"$max_us" -n 1)"
    kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
    wait "$pid" 2>/dev/null
    off=""
    for d in $devs; do off="$off $(not_home "${d%%=*}" "${d#*=}")"; done
    [ -n "$(echo $off)" ] && caught=$((caught + 1))
    # The records (and what the listing undoes) name every device not at home.
    $N list --detached > /tmp/listed 2>&1
    for d in $off; do
      grep -q -e "$d" -e "$(name_of "$d")" /tmp/listed ||
        { echo "$tag round $i: $d not at home, and list --detached says: $(tr '\n' '|' < /tmp/listed)" >> out/journal-problems.txt; bad=$((bad + 1)); }
    done
    sh -c "$restore" > /tmp/restore.out 2>&1 ||
      { echo "$tag round $i: restore failed: $(tr '\n' '|' < /tmp/restore.out)" >> out/journal-problems.txt; bad=$((bad + 1)); }
    for d in $devs; do home "$tag round $i" "${d%%=*}" "${d#*=}" || bad=$((bad + 1)); done
  done
  echo "$tag: $KILLS rounds, $killed killed while running, $caught found a device away from home after the kill, $bad problems" >> out/journal-summary.txt
  if [ $bad -eq 0 ]; then pass "journal/$tag ($KILLS rounds, $killed killed while running, $caught found a device away from home after the kill)"
  else fail "journal/$tag" "$bad problems: $(head -n 3 out/journal-problems.txt | tr '\n' '|')"; fi
}

NIC=0000:00:01.0
kill_loop kill-detach-override "$N reattach $NIC" "$NIC=e1000e" -- $N detach "$NIC"
kill_loop kill-detach-new-id "$N reattach $NIC" "$NIC=e1000e" -- $N detach --method new-id "$NIC"

cat > /tmp/two.xml <<'X'
<domain type='kvm'><name>two</name><devices>
<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></source></hostdev>
<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x00' slot='0x05' function='0x1'/></source></hostdev>
</devices></domain>
X
kill_loop kill-hook-prepare "$N hook qemu two release end -" "$NIC=e1000e" "0000:00:05.1=e1000e" -- \
  sh -c "$N hook qemu two prepare begin - < /tmp/two.xml"
kill_loop kill-group-detach "$N reattach 0000:09:01.0 0000:09:02.0" "0000:09:01.0=e1000" "0000:09:02.0=e1000" -- \
  $N detach --group 0000:09:01.0

# Moving between stubs keeps the original driver.
if $N detach $NIC > out/move.log 2>&1 && $N detach --driver pci-stub $NIC >> out/move.log 2>&1 &&
   [ "$(driver_of $NIC)" = pci-stub ] && $N reattach $NIC >> out/move.log 2>&1 && home move $NIC e1000e; then
  pass journal/detach-then-pci-stub-then-reattach-back-on-e1000e
else
  fail journal/detach-then-pci-stub-then-reattach-back-on-e1000e "$(tail -n 3 out/move.log | tr '\n' '|') $(tail -n 1 out/journal-problems.txt 2>/dev/null)"
fi

# A group detach racing member detaches, 20 rounds: always consistent.
bad=0
for i in $(seq 1 20); do
  $N detach --group 0000:09:01.0 > /dev/null 2>&1 &
  a=$!
  $N detach --driver pci-stub 0000:09:02.0 > /dev/null 2>&1 &
  b=$!
  wait $a; wait $b
  for d in 0000:09:01.0 0000:09:02.0; do
    drv=$(driver_of $d)
    if [ "$drv" != e1000 ]; then
      grep -q '"original_driver": "e1000"' "$S/devices/$d.json" 2>/dev/null ||
        { bad=$((bad + 1)); echo "race round $i: $d on '$drv', record: $(tr -d '\n' < "$S/devices/$d.json" 2>/dev/null)" >> out/journal-problems.txt; }
    fi
  done
  $N reattach 0000:09:01.0 0000:09:02.0 > /dev/null 2>&1
  home "race round $i" 0000:09:01.0 e1000 || bad=$((bad + 1))
  home "race round $i" 0000:09:02.0 e1000 || bad=$((bad + 1))
done
[ $bad -eq 0 ] && pass journal/group-racing-member-detaches-20-rounds || fail journal/group-racing-member-detaches-20-rounds "$bad problems"

# A domain naming one device twice with two drivers: refused before any write.
cat > /tmp/twice.xml <<'X'
<domain type='kvm'><name>twice</name><devices>
<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></source></hostdev>
<hostdev mode='subsystem' type='pci' managed='no'><driver name='vfio' model='pci-stub'/><source><address domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></source></hostdev>
</devices></domain>
X
$N hook qemu twice prepare begin - < /tmp/twice.xml > out/twice.out 2> out/twice.err
rc=$?
if [ $rc = 1 ] && grep -q "named twice with different drivers" out/twice.err && home twice $NIC e1000e; then
  pass journal/domain-naming-a-device-twice-is-refused
else
  fail journal/domain-naming-a-device-twice-is-refused "exit $rc: $(cat out/twice.err)"
fi

# nobody can neither read records nor take locks, and is told so.
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> /etc/passwd
$N detach $NIC > /dev/null 2>&1
for cmd in "list --detached" "reattach $NIC" "detach 0000:00:05.1"; do
  tag=$(echo "$cmd" | cut -d' ' -f1)
  su -s /bin/sh nobody -c "$N $cmd" > out/nobody-$tag.out 2> out/nobody-$tag.err
  rc=$?
  if [ $rc = 1 ] && grep -q -i "permission denied\|EACCES" out/nobody-$tag.err; then pass "journal/nobody-$tag-refused"
  else fail "journal/nobody-$tag-refused" "exit $rc: $(head -c 300 out/nobody-$tag.err)"; fi
done
[ "$(driver_of $NIC)" = vfio-pci ] && [ "$(driver_of 0000:00:05.1)" = e1000e ] &&
  pass journal/nobody-changed-nothing || fail journal/nobody-changed-nothing "$(driver_of $NIC) $(driver_of 0000:00:05.1)"
$N reattach $NIC > /dev/null 2>&1

# A lock held by a stuck root process: the next command gives up within its lock
# timeout and names the holder.
/tmp/hold_lock "$S/locks/$NIC.lock" 30 &
holder=$!
sleep 1
$N --lock-timeout 2 detach $NIC > out/stuck-lock.out 2> out/stuck-lock.err
rc=$?
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
if [ $rc = 1 ] && grep -q "pid $holder" out/stuck-lock.err && home stuck-lock $NIC e1000e; then
  pass journal/stuck-lock-names-its-holder
else
  fail journal/stuck-lock-names-its-holder "exit $rc: $(cat out/stuck-lock.err)"
fi
exit 0
