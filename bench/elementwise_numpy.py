"""numpy peer for `Tessera.Bench elementwise`: add, mul, exp on 1M and 16M float32, writing into a preallocated
output (as Tessera's machine does), median of repetitions. Prints JSON like the Tessera side."""
import json, os, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
import numpy as np

rows = []
rng = np.random.default_rng(1)
for n in (1 << 20, 1 << 24):
    a = rng.uniform(-1, 1, n).astype(np.float32)
    b = rng.uniform(-1, 1, n).astype(np.float32)
    out = np.empty_like(a)
    for op in ("add", "mul", "exp"):
        f = {"add": lambda: np.add(a, b, out=out), "mul": lambda: np.multiply(a, b, out=out), "exp": lambda: np.exp(a, out=out)}[op]
        reps = 15 if n > 1 << 22 else 60
        for _ in range(3):
            f()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter(); f(); times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        ms = times[reps // 2]
        rows.append({"op": op, "n": n, "median_ms": round(ms, 4), "gelem_per_s": round(n / ms / 1e6, 3)})
print(json.dumps(rows))
