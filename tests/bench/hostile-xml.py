#!/usr/bin/env python3
"""Writes one hostile XML document to standard output, for tests/bench/hostile-xml.sh
(issue 11: parsing must take linear time whatever the input).

usage: hostile-xml.py KIND N

KIND:
  device-attrs     a node-device document whose <name> has N attributes (`nodedev xml normalize -`)
  metadata-attrs   a domain whose <metadata> holds a foreign element with N attributes
                   (the libvirt hook's input: `nodedev hook qemu D prepare begin -`)
  metadata-ns      the same, with N namespace declarations instead
  metadata-deep    a foreign element nested N deep in <metadata>
  metadata-elems   N empty foreign elements in <metadata>
  metadata-text    N bytes of text, one character reference every 8 bytes, in <metadata>
  device-text      a node-device document whose <product> text is N bytes with references

Attribute names are the shortest distinct ones (letters), so 1.5 M attributes fit
under the 16 MiB input cap."""
import string
import sys

LETTERS = string.ascii_letters


def names(n):
    """n distinct attribute names, shortest first: a, b, ..., Z, aa, ab, ..."""
    width, count = 1, len(LETTERS)
    out = []
    while len(out) < n:
        for i in range(min(count, n - len(out))):
            s, k = "", i
            for _ in range(width):
                s = LETTERS[k % len(LETTERS)] + s
                k //= len(LETTERS)
            out.append(s)
        width += 1
        count = len(LETTERS) ** width
    return out


def attrs(n):
    return "".join(f" {a}=''" for a in names(n))


DEVICE_HEAD = "<device>\n  <name"
DEVICE_TAIL = """>computer</name>
  <capability type='system'>
    <hardware>
      <uuid>00000000-0000-0000-0000-000000000000</uuid>
    </hardware>
    <firmware>
    </firmware>
  </capability>
</device>
"""

DOMAIN_HEAD = "<domain type='kvm'>\n  <name>hostile</name>\n  <metadata>\n    "
DOMAIN_TAIL = """
  </metadata>
  <devices>
    <disk type='file' device='disk'><source file='/x.img'/></disk>
  </devices>
</domain>
"""


def text(n):
    unit = "abc&amp;de"  # 10 bytes, one reference
    return unit * (n // len(unit))


def main():
    kind, n = sys.argv[1], int(sys.argv[2])
    w = sys.stdout.write
    if kind == "device-attrs":
        w(DEVICE_HEAD + attrs(n) + DEVICE_TAIL)
    elif kind == "device-text":
        w(DEVICE_TAIL.replace("<capability type='system'>\n",
                              f"<capability type='system'>\n    <product>{text(n)}</product>\n")
          .replace(">computer</name>", "<device>\n  <name>computer</name>", 1))
    elif kind == "metadata-attrs":
        w(DOMAIN_HEAD + "<app:data xmlns:app='urn:example:app'" + attrs(n) + "/>" + DOMAIN_TAIL)
    elif kind == "metadata-ns":
        decls = "".join(f" xmlns:p{a}='urn:{a}'" for a in names(n))
        w(DOMAIN_HEAD + "<app:data xmlns:app='urn:example:app'" + decls + "/>" + DOMAIN_TAIL)
    elif kind == "metadata-deep":
        w(DOMAIN_HEAD + "<app:d xmlns:app='urn:example:app'>" + "<app:d>" * (n - 1)
          + "</app:d>" * n + DOMAIN_TAIL)
    elif kind == "metadata-elems":
        w(DOMAIN_HEAD + "<app:list xmlns:app='urn:example:app'>" + "<app:e/>" * n
          + "</app:list>" + DOMAIN_TAIL)
    elif kind == "metadata-text":
        w(DOMAIN_HEAD + "<app:t xmlns:app='urn:example:app'>" + text(n) + "</app:t>" + DOMAIN_TAIL)
    else:
        sys.exit(f"unknown kind {kind}")


if __name__ == "__main__":
    main()
