#!/usr/bin/python3
"""Before/after GEMM comparison on a shared machine: alternates a baseline Tessera build, this checkout's build
and numpy (OpenBLAS) for several rounds and prints, per shape, the best GFLOP/s from each run's *minimum* time
and [best GFLOP per CPU-second].

  # baseline: an exported older commit built in Release, e.g.
  #   mkdir /tmp/base && git archive c90cb2f | tar -x -C /tmp/base && dotnet build -c Release /tmp/base/src/Tessera.Cli
  dotnet build -c Release src/Tessera.Cli
  BASE=/tmp/base bench/gemm_before_after.py 64x3136x576,1024x1024x1024 2 3 [NN|NT|TN|TT] [nobase]

Arguments: shapes (MxNxK list), threads, rounds, op(A)op(B), "nobase" to skip the baseline.
"""
import json, subprocess, sys, os
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
shapes = sys.argv[1]; threads = sys.argv[2]; rounds = int(sys.argv[3]); trans = sys.argv[4] if len(sys.argv) > 4 else "NN"
extra = sys.argv[5:]
cli = "src/Tessera.Cli/bin/Release/net10.0/Tessera.Cli"
impls = {
 "base": [os.path.join(os.environ.get("BASE", "/tmp/base"), cli)],
 "new": [os.path.join(root, cli)],
 "numpy": ["/usr/bin/python3", os.path.join(here, "gemm_numpy.py")],
}
if "nobase" in extra: del impls["base"]
best = {}
for r in range(rounds):
    for name, cmd in impls.items():
        args = cmd + (["bench", "gemm"] if name != "numpy" else []) + ["--shapes", shapes, "--threads", threads, "--json", "--seconds", "0.6", "--trans", trans]
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads)
        out = subprocess.run(args, capture_output=True, text=True, env=env).stdout
        for row in json.loads(out[out.index("["):]):
            key = (row["m"], row["n"], row["k"])
            g = 2 * row["m"] * row["n"] * row["k"] / (row["min_ms"] * 1e-3) / 1e9
            gc = row.get("gflops_per_cpu_s", 0)
            b = best.setdefault(key, {})
            b[name] = max(b.get(name, (0, 0))[0], g), max(b.get(name, (0, 0))[1], gc)
load = open("/proc/loadavg").read().split()[:3]
names = list(impls)
print(f"threads={threads} trans={trans} rounds={rounds} load={' '.join(load)}  (GFLOP/s from best min-time; [GF/cpu-s])")
print("| shape | " + " | ".join(names) + " | new/base | new/numpy |")
for key, b in best.items():
    cells = [f"{b[n][0]:.0f} [{b[n][1]:.0f}]" for n in names]
    rb = b["new"][0] / b["base"][0] if "base" in b else float("nan")
    print(f"| {key[0]}x{key[1]}x{key[2]} | " + " | ".join(cells) + f" | {rb:.2f} | {b['new'][0]/b['numpy'][0]:.2f} |")
