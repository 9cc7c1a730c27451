#!/usr/bin/env bash
# Tessera.Trees vs XGBoost 1.7 (hist) and sklearn RandomForest, same machine, same run, same data splits.
#
#   bench/trees.sh [--repeats 3] [--fashion-repeats 2] [--threads 2] [--no-fashion] [--rf-fashion]
#
# Data: sklearn's bundled breast_cancer and digits CSVs (3/4 train, 1/4 test, numpy seed 0) and Fashion-MNIST
# (60k train / 10k test) from Debian's dataset-fashion-mnist, converted once to CSV under $OUT_DIR.
# Boosting: depth 6, learning rate 0.3, max_bin 255; 100 rounds (breast_cancer, digits), 50 (Fashion-MNIST).
# Random forest: 100 trees, sqrt(features) per split, fully grown (sklearn defaults).
# Tessera and the peer alternate, --repeats times each; the table shows medians and the ratio of medians.
#
# Fit time: Tessera = binning + boosting (after a 1-round JIT warm-up fit in the same process, --warmup);
# XGBoost = DMatrix construction + xgb.train. XGBoost runs with OMP_WAIT_POLICY=PASSIVE: on a shared, loaded
# machine OpenMP's default spin-waiting makes it 10-50x slower, which would flatter Tessera unfairly.
# Needs: apt-get install -y python3-xgboost python3-sklearn dataset-fashion-mnist (run with /usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."

REPEATS=3
FASHION_REPEATS=2
THREADS=2
FASHION=1
RF_FASHION=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeats) REPEATS=$2; shift 2 ;;
    --fashion-repeats) FASHION_REPEATS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --no-fashion) FASHION=0; shift ;;
    --rf-fashion) RF_FASHION=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
OUT_DIR=${OUT_DIR:-bench/out/trees}
PY=${PYTHON:-/usr/bin/python3}
mkdir -p "$OUT_DIR"
"$PY" -c "import xgboost, sklearn" 2>/dev/null || { echo "needs python3-xgboost and python3-sklearn (apt-get install -y python3-xgboost python3-sklearn dataset-fashion-mnist)" >&2; exit 1; }
[[ -f "$OUT_DIR/fashion_test.csv" ]] || "$PY" bench/trees_xgboost.py prepare "$OUT_DIR"

dotnet build -c Release src/Tessera.Cli -nologo -v q >&2
TESSERA=src/Tessera.Cli/bin/Release/net10.0/Tessera.Cli
RESULTS="$OUT_DIR/results.jsonl"
: > "$RESULTS"

run_boost() { # dataset rounds repeats
  local d=$1 rounds=$2 reps=$3
  for ((r = 1; r <= reps; r++)); do
    echo "boost $d round $r/$reps" >&2
    "$TESSERA" trees train "$OUT_DIR/${d}_train.csv" --test "$OUT_DIR/${d}_test.csv" --label label --rounds "$rounds" \
      --max-depth 6 --learning-rate 0.3 --max-bin 255 --threads "$THREADS" --warmup --quiet \
      | tail -1 | "$PY" -c "import json,sys; r=json.load(sys.stdin); r.update(impl='tessera', task='boost', dataset='$d'); print(json.dumps(r))" >> "$RESULTS"
    OMP_WAIT_POLICY=PASSIVE "$PY" bench/trees_xgboost.py xgboost "$OUT_DIR" "$d" --rounds "$rounds" --max-depth 6 --learning-rate 0.3 \
      --max-bin 255 --threads "$THREADS" \
      | "$PY" -c "import json,sys; r=json.load(sys.stdin); r.update(impl='peer', task='boost'); print(json.dumps(r))" >> "$RESULTS"
  done
}

run_rf() { # dataset repeats
  local d=$1 reps=$2
  for ((r = 1; r <= reps; r++)); do
    echo "forest $d round $r/$reps" >&2
    "$TESSERA" trees train "$OUT_DIR/${d}_train.csv" --test "$OUT_DIR/${d}_test.csv" --label label --model rf --trees 100 \
      --threads "$THREADS" --warmup --quiet \
      | tail -1 | "$PY" -c "import json,sys; r=json.load(sys.stdin); r.update(impl='tessera', task='rf', dataset='$d'); print(json.dumps(r))" >> "$RESULTS"
    OMP_WAIT_POLICY=PASSIVE "$PY" bench/trees_xgboost.py rf "$OUT_DIR" "$d" --trees 100 --threads "$THREADS" \
      | "$PY" -c "import json,sys; r=json.load(sys.stdin); r.update(impl='peer', task='rf'); print(json.dumps(r))" >> "$RESULTS"
  done
}

run_boost breast_cancer 100 "$REPEATS"
run_boost digits 100 "$REPEATS"
run_rf breast_cancer "$REPEATS"
run_rf digits "$REPEATS"
if [[ $FASHION == 1 ]]; then run_boost fashion 50 "$FASHION_REPEATS"; fi
if [[ $RF_FASHION == 1 ]]; then run_rf fashion "$FASHION_REPEATS"; fi

"$PY" - "$RESULTS" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(task, d, impl, key):
    v = [r[key] for r in rows if r["task"] == task and r["dataset"] == d and r["impl"] == impl and r.get(key) is not None]
    return statistics.median(v) if v else float("nan"), len(v)
for task, title, peer in [("boost", "Gradient boosting vs XGBoost hist", "XGBoost"), ("rf", "Random forest vs sklearn RandomForestClassifier", "sklearn")]:
    sets = list(dict.fromkeys(r["dataset"] for r in rows if r["task"] == task))
    if not sets: continue
    print(f"\n### {title}\n")
    print(f"| data set | runs | fit s Tessera | fit s {peer} | fit ratio | fit CPU s Tessera / {peer} | accuracy Tessera / {peer} | log-loss Tessera / {peer} | predict rows/s Tessera / {peer} |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d in sets:
        t, n = med(task, d, "tessera", "fit_seconds"); p, _ = med(task, d, "peer", "fit_seconds")
        tc, _ = med(task, d, "tessera", "fit_cpu_seconds"); pc, _ = med(task, d, "peer", "fit_cpu_seconds")
        ta, _ = med(task, d, "tessera", "accuracy"); pa, _ = med(task, d, "peer", "accuracy")
        tl, _ = med(task, d, "tessera", "logloss"); pl, _ = med(task, d, "peer", "logloss")
        tp, _ = med(task, d, "tessera", "predict_rows_per_second"); pp, _ = med(task, d, "peer", "predict_rows_per_second")
        print(f"| {d} | {n} | {t:.3f} | {p:.3f} | **{t / p:.2f}** | {tc:.2f} / {pc:.2f} | {ta:.4f} / {pa:.4f} | {tl:.4f} / {pl:.4f} | {tp:,.0f} / {pp:,.0f} |")
peers = sorted({r.get("peer", "") for r in rows if r["impl"] == "peer"})
print("\npeers: " + ", ".join(peers) + "; medians of alternating runs; ratio = Tessera / peer (lower is faster)")
PYEOF
