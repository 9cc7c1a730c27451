#!/usr/bin/python3
"""Exports jieba 0.42's data (MIT, Sun Junyi) into the files Tessera.Text embeds.

Run with Debian's python3-jieba installed:  /usr/bin/python3 tools/text/export_jieba_data.py
Writes src/Tessera.Text/Data/jieba/:
  dict.txt.gz     jieba's dict.txt byte for byte, gzipped (repo files stay < 5 MB)
  idf.txt.gz      jieba.analyse's idf.txt, gzipped
  finalseg.tsv.gz the BMES HMM: "start<TAB>S<TAB>logp", "trans<TAB>S1<TAB>S2<TAB>logp", "emit<TAB>S<TAB>char<TAB>logp"
  posseg.tsv.gz   the posseg HMM, states written as "B-n": "start", "trans", "emit" rows as above and
                  "chars<TAB>char<TAB>state state ..." (jieba's char_state_tab, order kept)
Floats are written with repr() (shortest round-trip), so the C# parser reads back the exact doubles.
"""
import gzip, os, sys
import jieba
from jieba.finalseg import prob_start as fs_start, prob_trans as fs_trans, prob_emit as fs_emit
from jieba.posseg import prob_start as ps_start, prob_trans as ps_trans, prob_emit as ps_emit, char_state_tab as ps_chars

root = os.path.dirname(jieba.__file__)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "Tessera.Text", "Data", "jieba")
os.makedirs(out, exist_ok=True)

def gz(name, data):
    # mtime=0: the same input gives the same bytes, so a rerun leaves git clean.
    with open(os.path.join(out, name), "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0, filename="") as g:
            g.write(data)

gz("dict.txt.gz", open(os.path.join(root, "dict.txt"), "rb").read())
gz("idf.txt.gz", open(os.path.join(root, "analyse", "idf.txt"), "rb").read())

def esc(ch):
    # tab, newline and backslash never occur in the tables, but fail loudly if they ever do
    assert "\t" not in ch and "\n" not in ch, repr(ch)
    return ch

lines = []
for s, p in fs_start.P.items():
    lines.append("start\t%s\t%r" % (s, p))
for s, d in fs_trans.P.items():
    for t, p in d.items():
        lines.append("trans\t%s\t%s\t%r" % (s, t, p))
for s, d in fs_emit.P.items():
    for ch, p in d.items():
        lines.append("emit\t%s\t%s\t%r" % (s, esc(ch), p))
gz("finalseg.tsv.gz", ("\n".join(lines) + "\n").encode("utf-8"))

st = lambda s: "%s-%s" % s
lines = []
for s, p in ps_start.P.items():
    lines.append("start\t%s\t%r" % (st(s), p))
for s, d in ps_trans.P.items():
    if not d:
        lines.append("trans\t%s" % st(s))   # a state with no successors
    for t, p in d.items():
        lines.append("trans\t%s\t%s\t%r" % (st(s), st(t), p))
for s, d in ps_emit.P.items():
    for ch, p in d.items():
        lines.append("emit\t%s\t%s\t%r" % (st(s), esc(ch), p))
for ch, states in ps_chars.P.items():
    lines.append("chars\t%s\t%s" % (esc(ch), " ".join(st(s) for s in states)))
gz("posseg.tsv.gz", ("\n".join(lines) + "\n").encode("utf-8"))

lic = "/usr/share/doc/python3-jieba/copyright"
with open(os.path.join(out, "LICENSE-jieba.txt"), "w") as f:
    f.write("The files dict.txt.gz, idf.txt.gz, finalseg.tsv.gz and posseg.tsv.gz in this folder are data from\n"
            "jieba 0.42.1 (https://github.com/fxsjy/jieba), exported by tools/text/export_jieba_data.py from\n"
            "Debian's python3-jieba package. They are used under jieba's MIT (Expat) license, reproduced below.\n\n")
    f.write(open(lic).read())
print("wrote", sorted(os.listdir(out)))
