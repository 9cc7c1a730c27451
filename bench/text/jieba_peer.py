#!/usr/bin/python3
"""Peer for bench/text/jieba_compare.sh: segments FILE line by line with jieba 0.42 exactly as
`python3 -m jieba` does (text-mode lines, rstrip('\\r\\n'), tokens joined by DELIM), plus a search mode.
usage: jieba_peer.py MODE DELIM FILE     MODE: hmm | nohmm | full | search | search-nohmm | pos"""
import sys, time, logging
import jieba
jieba.setLogLevel(logging.WARNING)
mode, delim, path = sys.argv[1], sys.argv[2], sys.argv[3]
jieba.initialize()
if mode == "hmm":       cut = lambda s: jieba.cut(s, HMM=True)
elif mode == "nohmm":   cut = lambda s: jieba.cut(s, HMM=False)
elif mode == "full":    cut = lambda s: jieba.cut(s, cut_all=True)
elif mode == "search":  cut = lambda s: jieba.cut_for_search(s, HMM=True)
elif mode == "search-nohmm": cut = lambda s: jieba.cut_for_search(s, HMM=False)
elif mode == "pos":
    import jieba.posseg
    cut = lambda s: (w + "/" + f for w, f in jieba.posseg.cut(s, HMM=True))
else: sys.exit("unknown mode " + mode)
out = sys.stdout
with open(path, "r", encoding="utf-8", errors="replace") as fp:
    for ln in fp:
        out.write(delim.join(cut(ln.rstrip("\r\n"))))
        out.write("\n")
