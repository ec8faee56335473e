# shellcheck shell=sh
# The oracle's comparisons, shared by the guest (oracle.sh, busybox sh) and the host
# (../host-oracle.sh, bash). The caller defines V (virsh of the real libvirtd), N
# (the nodedev command), pass/fail and RESULTS (see lib.sh), sets ORACLE_TAG (the
# prefix of every result name), and runs from a directory holding out/,
# tree.awk and oracle-pending.txt.
ORACLE_TAG=${ORACLE_TAG:-oracle}
# A second pass in the same run (oracle.sh's pass without udev) sets another
# ORACLE_TAG; its diffs are named after it and its libvirt documents kept in
# out/libvirt-xml-<tag> (the first pass: out/diffs/<check>.diff, out/libvirt-xml).
ORACLE_XML_DIR=${ORACLE_XML_DIR:-out/libvirt-xml}
ORACLE_DIFF_PREFIX=${ORACLE_DIFF_PREFIX:-}
matched=${matched:-0} differed=${differed:-0} known=${known:-0}
mkdir -p out/diffs out/o "$ORACLE_XML_DIR"
# ---- helpers ----------------------------------------------------------------
# The known differences (oracle-pending.txt): pending capabilities and checks.
PENDING_CAPS=$(awk '$1 == "cap" {print $2}' ./oracle-pending.txt)
pending_check() { # NAME: the reason of the first "check" line whose glob matches NAME
  while read -r pc_kind pc_pat pc_why; do
    [ "$pc_kind" = check ] || continue
    # shellcheck disable=SC2254
    case "$1" in $pc_pat) echo "$pc_why"; return 0;; esac
  done < ./oracle-pending.txt
  return 1
}
pending_cap_why() { awk -v n="$1" '$1 == "cap" && $2 == n {$1 = ""; $2 = ""; sub(/^ +/, ""); print}' ./oracle-pending.txt; }

# verdict NAME FILE_LIBVIRT FILE_OURS [KNOWN_WHY]: PASS when the files are equal;
# otherwise FAIL (or KNOWN-DIFF when KNOWN_WHY is given or NAME is a pending
# check), with the unified diff in out/diffs/.
verdict() {
  v_name=$1 v_a=$2 v_b=$3 v_why=${4:-}
  if cmp -s "$v_a" "$v_b"; then
    pass "$ORACLE_TAG/$v_name"; matched=$((matched + 1)); return 0
  fi
  v_diff="out/diffs/$(echo "$ORACLE_DIFF_PREFIX$v_name" | tr '/ ' '__').diff"
  diff -u "$v_a" "$v_b" > "$v_diff"
  sed -i "1s|.*|--- libvirt: $v_name|; 2s|.*|+++ nodedev: $v_name|" "$v_diff"
  [ -z "$v_why" ] && v_why=$(pending_check "$v_name")
  if [ -n "$v_why" ]; then
    echo "KNOWN-DIFF $ORACLE_TAG/$v_name: $v_why" >> "$RESULTS"; known=$((known + 1))
  else
    fail "$ORACLE_TAG/$v_name" "differs from libvirt (diff: out/diffs/$(basename "$v_diff"))"; differed=$((differed + 1))
  fi
  return 1
}
# capture PREFIX CMD…: stdout, stderr, both interleaved as a terminal would show
# them (2>&1), and the exit code, in PREFIX.{out,err,all,rc}.
capture() {
  c_p=$1; shift
  "$@" > "$c_p.out" 2> "$c_p.err"; echo $? > "$c_p.rc"
}
capture_all() { c_p=$1; shift; "$@" > "$c_p.all" 2>&1; }
# whole PREFIX: PREFIX.txt, stdout, stderr and the exit code of a capture one after
# another (what most comparisons compare); capture_whole PREFIX CMD…: both.
whole() { cat "$1.out" "$1.err" "$1.rc" > "$1.txt"; }
capture_whole() { capture "$@"; whole "$1"; }
ovr() { cat "/sys/bus/pci/devices/$1/driver_override" 2>/dev/null; }
state_of() { echo "driver=$(driver_of "$1") driver_override=$(ovr "$1")"; }

# oracle_inventory: the listing (plain, --tree, --cap X for every name), then
# nodedev-dumpxml and nodedev-info of every device libvirt lists.
oracle_inventory() {
  mkdir -p "$ORACLE_XML_DIR"
  # ---- the listing --------------------------------------------------------------
  V nodedev-list > out/o/lv-list.txt 2> out/o/lv-list.err
  $N list > out/o/nd-list.txt 2> out/o/nd-list.err
  # Devices of the pending classes, per libvirt, and the reason for each.
  : > out/o/pending-names.txt
  for cap in $PENDING_CAPS; do
    V nodedev-list --cap "$cap" | grep . | while read -r d; do echo "$d $cap"; done >> out/o/pending-names.txt
  done
  cut -d' ' -f1 out/o/pending-names.txt | sort -u > out/o/pending-only-names.txt
  # (busybox grep prints nothing for an empty -f file: no pending names, no filter)
  if [ -s out/o/pending-only-names.txt ]; then
    grep -vxF -f out/o/pending-only-names.txt out/o/lv-list.txt > out/o/lv-list-known.txt
  else
    cp out/o/lv-list.txt out/o/lv-list-known.txt
  fi
  verdict list out/o/lv-list-known.txt out/o/nd-list.txt
  $N virsh nodedev-list > out/o/ndv-list.txt 2>&1
  verdict virsh-mode-list out/o/lv-list-known.txt out/o/ndv-list.txt
  cp out/o/lv-list.txt out/oracle-libvirt-list.txt

  V nodedev-list --tree > out/o/lv-tree.txt 2>&1
  $N list --tree > out/o/nd-tree.txt 2>&1
  : > /tmp/none
  awk -v skip=/tmp/none -f ./tree.awk out/o/lv-tree.txt > out/o/lv-tree-regen.txt
  verdict tree-printer-self-check out/o/lv-tree.txt out/o/lv-tree-regen.txt
  awk -v skip=out/o/pending-only-names.txt -f ./tree.awk out/o/lv-tree.txt > out/o/lv-tree-known.txt
  verdict tree out/o/lv-tree-known.txt out/o/nd-tree.txt
  $N virsh nodedev-list --tree > out/o/ndv-tree.txt 2>&1
  verdict virsh-mode-tree out/o/lv-tree-known.txt out/o/ndv-tree.txt

  # --cap X for every capability name virsh 9.0 accepts (virNodeDevCap enum order).
  for cap in system pci usb_device usb net scsi_host scsi_target scsi storage fc_host vports \
             scsi_generic drm mdev_types mdev ccw css vdpa ap_card ap_queue ap_matrix vpd; do
    capture_whole out/o/lv-cap-$cap V nodedev-list --cap "$cap"
    capture_whole out/o/nd-cap-$cap $N list --cap "$cap"
    why=$(pending_cap_why "$cap")
    verdict "list-cap/$cap" out/o/lv-cap-$cap.txt out/o/nd-cap-$cap.txt "$why"
  done

  # ---- every device libvirt lists: dumpxml and nodedev-info ---------------------
  # dev_check NAME TAG: compares `virsh nodedev-dumpxml` with `nodedev dumpxml` and
  # `virsh nodedev-info` with `nodedev virsh nodedev-info` for one device.
  dev_check() {
    d=$1 tag=$2
    why=""
    cap=$(awk -v d="$d" '$1 == d {print $2; exit}' out/o/pending-names.txt)
    [ -n "$cap" ] && why=$(pending_cap_why "$cap")
    V nodedev-dumpxml "$d" > out/o/lv.xml 2>&1
    $N dumpxml "$d" > out/o/nd.xml 2>&1
    verdict "${tag}dumpxml/$d" out/o/lv.xml out/o/nd.xml "$why"
    cp out/o/lv.xml "$ORACLE_XML_DIR/$d.xml"
    V nodedev-info "$d" > out/o/lv.info 2>&1
    $N virsh nodedev-info "$d" > out/o/nd.info 2>&1
    verdict "${tag}info/$d" out/o/lv.info out/o/nd.info "$why"
  }

  while read -r d; do [ -n "$d" ] && dev_check "$d" ""; done < out/o/lv-list.txt
}

# oracle_connect URI: nodedev through libvirt (`--connect URI` and virsh mode's `-c
# URI`, the build with the libvirt backend) against `virsh -c URI`: the listing,
# --tree, --cap pci/net/system, an unknown device, and nodedev-dumpxml and
# nodedev-info of every device libvirt lists (pending classes included: libvirt
# answers for them). The caller defines VC (virsh -c URI) and NC (the libvirt
# build of nodedev, run where libvirt0 is). stdout, stderr and the exit code of
# each, compared as one file.
oracle_connect() {
  oc_uri=$1
  # oc_same NAME VIRSH-ARGS…: virsh -c URI ARGS vs nodedev virsh -c URI ARGS.
  oc_same() {
    oc_name=$1; shift
    capture_whole out/o/lvc VC "$@"
    capture_whole out/o/ndc $NC virsh -c "$oc_uri" "$@"
    verdict "connect/virsh-c/$oc_name" out/o/lvc.txt out/o/ndc.txt
  }
  # oc_ours NAME NODEDEV-ARGS -- VIRSH-ARGS…: nodedev --connect URI ARGS vs virsh.
  oc_ours() {
    oc_name=$1; shift
    oc_n=""
    while [ "$1" != -- ]; do oc_n="$oc_n $1"; shift; done; shift
    capture_whole out/o/lvc VC "$@"
    # shellcheck disable=SC2086
    capture_whole out/o/ndc $NC --connect "$oc_uri" $oc_n
    verdict "connect/ours/$oc_name" out/o/lvc.txt out/o/ndc.txt
  }
  oc_same list nodedev-list
  oc_ours list list -- nodedev-list
  oc_same tree nodedev-list --tree
  oc_ours tree list --tree -- nodedev-list --tree
  for cap in pci net system; do
    oc_same "list-cap/$cap" nodedev-list --cap "$cap"
    oc_ours "list-cap/$cap" list --cap "$cap" -- nodedev-list --cap "$cap"
  done
  oc_same list-bad-cap nodedev-list --cap no-such-cap
  oc_same dumpxml-unknown-device nodedev-dumpxml pci_0000_0f_1f_0
  oc_ours dumpxml-unknown-device dumpxml pci_0000_0f_1f_0 -- nodedev-dumpxml pci_0000_0f_1f_0
  oc_same info-unknown-device nodedev-info pci_0000_0f_1f_0
  oc_ours info-unknown-device info pci_0000_0f_1f_0 -- nodedev-info pci_0000_0f_1f_0
  VC nodedev-list > out/o/lvc-list.txt 2>/dev/null
  # Per device, virsh runs once per command and both forms of nodedev are compared
  # with that one answer.
  oc_both() { # NAME VIRSH-COMMAND OUR-COMMAND DEVICE
    capture_whole out/o/lvc VC "$2" "$4"
    capture_whole out/o/ndc $NC virsh -c "$oc_uri" "$2" "$4"
    verdict "connect/virsh-c/$1" out/o/lvc.txt out/o/ndc.txt
    capture_whole out/o/ndc $NC --connect "$oc_uri" "$3" "$4"
    verdict "connect/ours/$1" out/o/lvc.txt out/o/ndc.txt
  }
  while read -r d; do
    [ -n "$d" ] || continue
    oc_both "dumpxml/$d" nodedev-dumpxml dumpxml "$d"
    oc_both "info/$d" nodedev-info info "$d"
  done < out/o/lvc-list.txt
}
