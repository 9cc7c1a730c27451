#!/usr/bin/python3
"""jieba 0.42 (Python) throughput peer: cuts CORPUS line by line (jieba.lcut, accurate mode with HMM) in 1 process
or in PROCS processes (multiprocessing, lines split in equal parts); prints one JSON line like `tessera text bench`.
usage: jieba_speed.py CORPUS [PROCS] [PASSES]"""
import json, logging, multiprocessing as mp, os, resource, sys, time
import jieba
jieba.setLogLevel(logging.WARNING)

def work(args):
    lines, = args
    jieba.initialize()
    t = time.perf_counter()
    n = 0
    for l in lines:
        n += len(jieba.lcut(l))
    return n, time.perf_counter() - t

if __name__ == "__main__":
    path = sys.argv[1]
    procs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    passes = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    if lines and lines[-1] == "": lines.pop()
    nbytes = sum(len(l.encode("utf-8")) + 1 for l in lines)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter(); jieba.initialize(); load = time.perf_counter() - t   # from jieba's marshal cache when present
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cold = jieba.Tokenizer(); t = time.perf_counter()
    cold.FREQ, cold.total = cold.gen_pfdict(cold.get_dict_file()); cold_load = time.perf_counter() - t  # from dict.txt
    del cold
    times = []
    tokens = 0
    if procs == 1:
        for _ in range(passes):
            t = time.perf_counter()
            tokens = sum(len(jieba.lcut(l)) for l in lines)
            times.append(time.perf_counter() - t)
    else:
        per = (len(lines) + procs - 1) // procs
        chunks = [(lines[i * per:(i + 1) * per],) for i in range(procs)]
        with mp.get_context("fork").Pool(procs) as pool:
            pool.map(work, [([l for l in c[0][:50]],) for c in chunks])   # start workers, load the dictionary
            for _ in range(passes):
                t = time.perf_counter()
                res = pool.map(work, chunks)
                times.append(time.perf_counter() - t)
                tokens = sum(r[0] for r in res)
    times.sort()
    med = times[len(times) // 2]
    print(json.dumps({"impl": "jieba-python-0.42", "mode": "hmm", "threads": procs, "bytes": nbytes, "lines": len(lines),
                      "tokens": tokens, "passes": passes, "median_s": round(med, 4), "mb_per_s": round(nbytes / med / 1e6, 2),
                      "load_s": round(load, 3), "load_from_dict_txt_s": round(cold_load, 3),
                      "dict_rss_mb": round((rss1 - rss0) / 1024, 1)}))
