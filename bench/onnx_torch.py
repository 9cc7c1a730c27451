#!/usr/bin/python3
"""PyTorch 1.13 peer for bench/onnx.sh: latency of the torchvision models the ONNX files were exported from.

Usage: /usr/bin/python3 bench/onnx_torch.py MODEL --batches 1,32 --threads 2 [--reps N]
Same seed as tools/onnx/export_torchvision.py, so the weights equal those in the ONNX file. Prints JSON rows.
"""
import argparse, json, os, statistics, sys, time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "onnx"))
from export_torchvision import build  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("--batches", default="1,32")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--reps", type=int, default=0)
p.add_argument("--seq", type=int, default=128)
a = p.parse_args()
torch.set_num_threads(a.threads)
model, _ = build(a.model)
rows = []
with torch.inference_mode():
    for batch in [int(b) for b in a.batches.split(",")]:
        _, x = build(a.model, batch, a.seq)   # same shapes as the ONNX run's input (values do not matter)
        n = a.reps or (30 if batch == 1 else 5)
        for _ in range(3):
            model(x)
        times = []
        for _ in range(n):
            t = time.perf_counter(); model(x); times.append((time.perf_counter() - t) * 1000)
        rows.append({"model": a.model, "batch": batch, "threads": a.threads, "torch_ms": round(statistics.median(times), 2), "reps": n})
print(json.dumps(rows))
