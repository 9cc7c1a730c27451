#!/usr/bin/python3
"""Compares two segmentation outputs line by line: prints lines, identical lines, identical tokens and the first diffs."""
import sys
a, b, delim = sys.argv[1], sys.argv[2], sys.argv[3]
la = open(a, encoding="utf-8", errors="replace").read().split("\n")
lb = open(b, encoding="utf-8", errors="replace").read().split("\n")
if la and la[-1] == "": la.pop()
if lb and lb[-1] == "": lb.pop()
same = sum(1 for x, y in zip(la, lb) if x == y)
tok_a = tok_same = 0
shown = 0
for i, (x, y) in enumerate(zip(la, lb)):
    ta, tb = x.split(delim), y.split(delim)
    tok_a += len(ta)
    if x == y:
        tok_same += len(ta)
    else:
        # tokens identical in position until the first difference, from the end likewise
        k = 0
        while k < min(len(ta), len(tb)) and ta[k] == tb[k]: k += 1
        tok_same += k
        if shown < 5:
            shown += 1
            print("  line %d differs:\n    jieba  : %s\n    tessera: %s" % (i + 1, "|".join(ta[max(0,k-3):k+6]), "|".join(tb[max(0,k-3):k+6])), file=sys.stderr)
n = max(len(la), len(lb))
print("%d lines, %d identical (%.4f%%), line counts %d/%d, tokens %d, %d in agreeing prefixes (%.4f%%)" % (
    n, same, 100.0 * same / max(n, 1), len(la), len(lb), tok_a, tok_same, 100.0 * tok_same / max(tok_a, 1)))
