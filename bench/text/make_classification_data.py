#!/usr/bin/python3
"""Builds a labelled Chinese text-classification dataset from real text: the sentences of Debian's manpages-zh
(1.6.4.0) zh_CN manual pages, labelled by the manual section their page belongs to:
  1 user commands, 3 library functions, 5 file formats, 7 overviews/conventions, 8 administration.
Text = up to LINES (default 5) consecutive troff source lines of one page, markup removed, each line kept when it
has at least 8 Han chars, joined by spaces (a short passage: one line alone rarely tells the section).
Split by PAGE, not by line (no page has lines on both sides): a page goes to the test set when
crc32(page file name) % 5 == 0, so about 20% of pages are held out.
Writes bench/out/text/man_sections_train.csv and ..._test.csv (columns text,label).
usage: /usr/bin/python3 bench/text/make_classification_data.py [LINES]"""
import csv, glob, gzip, os, re, sys, zlib
LINES = int(sys.argv[1]) if len(sys.argv) > 1 else 5
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
out = os.path.join(root, "bench", "out", "text")
os.makedirs(out, exist_ok=True)
labels = {"1": "user-commands", "3": "library", "5": "file-formats", "7": "overview", "8": "admin"}
han = re.compile("[\u4e00-\u9fff]")
esc = re.compile(r"\\f\[?[A-Z0-9]*\]?|\\\(..|\\\*\(..|\\\*.|\\[-&|^e0 ]|\\s[-+]?\d|\\c|\\/|\\,")
rows = {"train": [], "test": []}
for sec, name in labels.items():
    for path in sorted(glob.glob("/usr/share/man/zh_CN/man%s/*.gz" % sec)):
        page = os.path.basename(path)
        split = "test" if zlib.crc32(page.encode()) % 5 == 0 else "train"
        try:
            text = gzip.open(path).read().decode("utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        kept = []
        for line in text.split("\n"):
            if line.startswith((".", "'", '\\"')):
                continue
            line = esc.sub("", line).replace("\\\\", "\\").strip()
            if len(han.findall(line)) >= 8:
                kept.append(line)
        for i in range(0, len(kept), LINES):
            rows[split].append((" ".join(kept[i:i + LINES]), "%s-%s" % (sec, name)))
for split, r in rows.items():
    with open(os.path.join(out, "man_sections_%s.csv" % split), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(r)
    counts = {}
    for _, l in r: counts[l] = counts.get(l, 0) + 1
    print(split, len(r), sorted(counts.items()))
