#!/usr/bin/env bash
# Assembles the Chinese corpus used to check agreement with jieba and to measure throughput:
# every zh_CN manual page of Debian's manpages-zh (1.6.4.0), rendered to UTF-8 text by man(1), with
# leading/trailing blanks trimmed, runs of 3+ spaces (man's column padding) squeezed, and empty lines dropped.
# Output: bench/out/text/zh_man.txt (about 5 MB, 58k lines). Needs: apt-get install manpages-zh man-db bsdextrautils
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/out/text; mkdir -p "$out"
[ -s "$out/zh_man.txt" ] && { echo "$out/zh_man.txt exists"; exit 0; }
ls /usr/share/man/zh_CN/man*/*.gz >/dev/null 2>&1 || { echo "install manpages-zh first (apt-get install manpages-zh)" >&2; exit 1; }
for f in /usr/share/man/zh_CN/man*/*.gz; do
  MANWIDTH=4000 LANG=C.UTF-8 man -l "$f" 2>/dev/null | col -bx
done | sed -E 's/^[ \t]+//; s/[ \t]+$//; s/ {3,}/  /g' | grep -v '^$' > "$out/zh_man.txt.tmp"
mv "$out/zh_man.txt.tmp" "$out/zh_man.txt"
wc -lc "$out/zh_man.txt"
