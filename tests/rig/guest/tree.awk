# Reads `virsh nodedev-list --tree` output and prints it again with virsh's own
# algorithm (tools/vsh.c vshTreePrintInternal), leaving out every device named in
# the file given as -v skip=FILE (one name a line) and everything below it.
# With an empty skip file the output must equal the input byte for byte: the
# oracle checks that first, so this printer cannot drift from virsh's.
BEGIN {
  while (skip != "" && (getline l < skip) > 0) skipped[l] = 1
  n = 0
}
/^[^ |+]/ { n++; name[n] = $0; depth[n] = 0; next }
/\+- / {
  p = index($0, "+- ")
  n++; name[n] = substr($0, p + 3); depth[n] = (p - 3) / 4 + 1
}
END {
  # Parent of each node: the last node one level up; drop skipped subtrees.
  for (i = 1; i <= n; i++) {
    par = 0
    for (j = i - 1; j >= 1; j--) if (depth[j] == depth[i] - 1) { par = j; break }
    gone[i] = (name[i] in skipped) || (par && gone[par])
    if (!gone[i]) {
      if (par) { kids[par] = kids[par] " " i } else { roots = roots " " i }
    }
  }
  nr = split(roots, r, " ")
  for (k = 1; k <= nr; k++) show(r[k], "", 1, k == nr)
  print ""
}
function show(i, indent, root, last,    c, nc, k) {
  print indent (root ? "" : "+- ") name[i]
  if (!root) indent = indent (last ? " " : "|") " "
  nc = split(kids[i], c, " ")
  if (nc) print indent "  |"
  indent = indent "  "
  for (k = 1; k <= nc; k++) show(c[k], indent, 0, k == nc)
  indent = substr(indent, 1, length(indent) - 2)
  if (!nc && last) print indent
}
