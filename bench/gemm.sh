#!/usr/bin/env bash
# Tessera SGEMM vs numpy (float32 matmul) on the same machine, in the same run.
#
#   bench/gemm.sh [--sizes 256,1024,2048] [--shapes 64x784x256,256x784x256] [--threads 2] [--rounds 3]
#
# Builds the CLI in Release, then runs Tessera and numpy alternately for --rounds rounds and keeps,
# per shape and implementation, the best round (each round is itself a median of repetitions), which
# filters out interference from other processes on a shared machine. Prints a table with the
# Tessera/numpy GFLOP/s ratio. Raw JSON of every round is left in $OUT_DIR (default: bench/out).
#
# numpy uses whatever libblas.so.3 it is bound to. Debian's default alternative is the slow reference
# (netlib) BLAS; to compare against OpenBLAS without changing the system, unpack the Debian package
# locally and point OPENBLAS_LIB_DIR at it, e.g.
#   apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb /tmp/openblas
#   OPENBLAS_LIB_DIR=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread bench/gemm.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=256,1024,2048
SHAPES=64x784x256,256x784x256
THREADS=2
ROUNDS=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --shapes) SHAPES=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
OUT_DIR=${OUT_DIR:-bench/out}
mkdir -p "$OUT_DIR"
PY=${PYTHON:-/usr/bin/python3}

dotnet build -c Release src/Tessera.Cli -nologo -v q >&2
TESSERA=src/Tessera.Cli/bin/Release/net10.0/Tessera.Cli

NUMPY_ENV=(env OPENBLAS_NUM_THREADS="$THREADS")
if [[ -n "${OPENBLAS_LIB_DIR:-}" ]]; then
  NUMPY_ENV+=(LD_LIBRARY_PATH="$OPENBLAS_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
fi

for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r/$ROUNDS" >&2
  "$TESSERA" bench gemm --sizes "$SIZES" --shapes "$SHAPES" --threads "$THREADS" --json > "$OUT_DIR/tessera.$r.json"
  "${NUMPY_ENV[@]}" "$PY" bench/gemm_numpy.py --sizes "$SIZES" --shapes "$SHAPES" --threads "$THREADS" --json > "$OUT_DIR/numpy.$r.json"
done

"$PY" - "$OUT_DIR" "$ROUNDS" <<'PYEOF'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def best(impl):
    res = {}
    for r in range(1, rounds + 1):
        for row in json.load(open(f"{out}/{impl}.{r}.json")):
            key = (row["m"], row["n"], row["k"])
            if key not in res or row["gflops"] > res[key]["gflops"]:
                res[key] = row
    return res
def all_rows(impl, key):
    rows = []
    for r in range(1, rounds + 1):
        rows += [x for x in json.load(open(f"{out}/{impl}.{r}.json")) if (x["m"], x["n"], x["k"]) == key]
    return rows
t, n = best("tessera"), best("numpy")
blas = next(iter(n.values()))["blas"] if n else "?"
print(f"| shape (m x n x k) | threads | Tessera GFLOP/s | numpy GFLOP/s | ratio | Tessera GFLOP/cpu-s | numpy GFLOP/cpu-s |")
print(f"|---|---:|---:|---:|---:|---:|---:|")
for key, row in t.items():
    other = n.get(key)
    name = f"{key[0]}x{key[1]}x{key[2]}"
    ratio = row["gflops"] / other["gflops"] if other else float("nan")
    t_eff = max(x["gflops_per_cpu_s"] for x in all_rows("tessera", key))
    n_eff = max(x["gflops_per_cpu_s"] for x in all_rows("numpy", key)) if other else float("nan")
    print(f"| {name} | {row['threads']} | {row['gflops']:.1f} | {other['gflops'] if other else float('nan'):.1f} | {ratio:.2f} | {t_eff:.1f} | {n_eff:.1f} |")
print(f"\nnumpy BLAS: {blas}; GFLOP/s: best of {rounds} alternating rounds, each the median of repetitions;")
print("GFLOP/cpu-s: flops per second of process CPU time (all threads), best round: insensitive to time slicing")
PYEOF
