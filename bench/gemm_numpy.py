#!/usr/bin/python3
"""Peer benchmark for `tessera bench gemm`: numpy float32 (or float64) C = A @ B.

Prints the same JSON objects (size, m, n, k, threads, gflops, median_ms, ...) as
`Tessera.Cli bench gemm --json`. Thread count goes to OPENBLAS_NUM_THREADS (and the
other usual BLAS variables) *before* numpy is imported. The BLAS library numpy actually
loaded is reported in the "blas" field (Debian's numpy may be bound to the reference
netlib BLAS or to OpenBLAS, depending on the libblas.so.3 alternative / LD_LIBRARY_PATH).
"""
import argparse
import json
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--sizes", default="")
parser.add_argument("--shapes", default="")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
parser.add_argument("--trans", default="NN", choices=["NN", "NT", "TN", "TT"],
                    help="op(A)op(B); a transposed operand is stored as its transpose and passed as a .T view")
parser.add_argument("--reps", type=int, default=0, help="0 = as many as fit in --seconds (at least 5)")
parser.add_argument("--seconds", type=float, default=1.0)
parser.add_argument("--json", action="store_true")
args = parser.parse_args()

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402  (must come after the thread variables)


def blas_library():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower()}
        return ",".join(sorted(os.path.basename(p) for p in libs)) or "unknown"
    except OSError:
        return "unknown"


problems = []
for s in filter(None, (x.strip() for x in args.sizes.split(","))):
    v = int(s)
    problems.append((s, v, v, v, v))
for s in filter(None, (x.strip() for x in args.shapes.split(","))):
    m, n, k = (int(x) for x in s.lower().split("x"))
    problems.append((s, None, m, n, k))
if not problems:
    problems = [(str(v), v, v, v, v) for v in (256, 1024, 2048)]

rng = np.random.default_rng(12345)
results = []
for name, size, m, n, k in problems:
    a = (rng.random((k, m) if args.trans[0] == "T" else (m, k)) * 2 - 1).astype(args.dtype)
    b = (rng.random((n, k) if args.trans[1] == "T" else (k, n)) * 2 - 1).astype(args.dtype)
    if args.trans[0] == "T":
        a = a.T
    if args.trans[1] == "T":
        b = b.T
    c = np.empty((m, n), dtype=args.dtype)
    start, warm = time.perf_counter(), 0
    while warm < 3 or (time.perf_counter() - start < min(0.5, args.seconds) and warm < 200):
        np.matmul(a, b, out=c)
        warm += 1
    one = (time.perf_counter() - start) / warm
    reps = args.reps if args.reps > 0 else int(min(200, max(5, args.seconds / max(one, 1e-9))))
    times = []
    cpu0 = time.process_time()
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append((time.perf_counter() - t0) * 1e3)
    cpu_ms = (time.process_time() - cpu0) * 1e3 / reps
    times.sort()
    median = times[reps // 2] if reps % 2 else 0.5 * (times[reps // 2 - 1] + times[reps // 2])
    results.append({
        "impl": "numpy", "name": name, "size": size, "m": m, "n": n, "k": k, "dtype": args.dtype, "trans": args.trans,
        "threads": args.threads, "reps": reps, "median_ms": round(median, 4), "min_ms": round(times[0], 4),
        "gflops": round(2.0 * m * n * k / (median * 1e-3) / 1e9, 2), "cpu_ms": round(cpu_ms, 4),
        "gflops_per_cpu_s": round(2.0 * m * n * k / (cpu_ms * 1e-3) / 1e9, 2), "blas": blas_library(),
    })
    if not args.json:
        print(f"  {name}: {results[-1]['gflops']:.1f} GFLOP/s", file=sys.stderr)

if args.json:
    print(json.dumps(results, indent=2))
else:
    print(f"{'problem':<16} {'m':>6} {'n':>6} {'k':>6} {'thr':>3} {'median ms':>10} {'GFLOP/s':>9} {'GF/cpu-s':>9}  blas")
    for r in results:
        print(f"{r['name']:<16} {r['m']:>6} {r['n']:>6} {r['k']:>6} {r['threads']:>3} {r['median_ms']:>10.3f} {r['gflops']:>9.1f} {r['gflops_per_cpu_s']:>9.1f}  {r['blas']}")
