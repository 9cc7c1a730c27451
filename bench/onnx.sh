#!/usr/bin/env bash
# Native Tessera vs ONNX Runtime (C#, NuGet 1.31.1) vs PyTorch 1.13 on torchvision resnet18, mobilenet_v2 and
# squeezenet1_1 (random weights, ONNX opset 13) and a 6-layer transformer encoder (d_model 512, opset 17, sequence
# length --seq), batch 1 and 32, 2 threads, in one run.
#
#   bench/onnx.sh [--models resnet18,mobilenet_v2,squeezenet1_1,transformer_encoder] [--batches 1,32] [--threads 2]
#                 [--rounds 2] [--seq 128]
#
# Exports the models first (tools/onnx/export_torchvision.py, cached in ~/.cache/tessera/onnx). Native and ORT are
# timed alternately in one process on identical inputs (and their outputs compared); PyTorch runs right after
# in its own process. Each round is a median of repetitions; the best round per engine is kept, which filters
# interference on a shared machine. Prints a Markdown table (native/ORT ratio) and leaves raw JSON in $OUT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=resnet18,mobilenet_v2,squeezenet1_1,transformer_encoder
SEQ=128
BATCHES=1,32
THREADS=2
ROUNDS=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --batches) BATCHES=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --seq) SEQ=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
PY=/usr/bin/python3
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tessera/onnx
OUT_DIR=${OUT_DIR:-bench/out/onnx}
mkdir -p "$OUT_DIR"
if ! "$PY" -c "import torchvision" 2>/dev/null; then
  TMPDIR=$(mktemp -d -p /var/tmp) apt-get install -y python3-torch python3-torchvision >&2
fi
"$PY" tools/onnx/export_torchvision.py "$CACHE" >&2
dotnet build -c Release bench/Tessera.OnnxBench -nologo -v q >&2
BENCH=bench/Tessera.OnnxBench/bin/Release/net10.0/Tessera.OnnxBench

IFS=, read -ra models <<<"$MODELS"
for ((r = 1; r <= ROUNDS; r++)); do
  for m in "${models[@]}"; do
    echo "round $r/$ROUNDS: $m" >&2
    "$BENCH" "$CACHE/$m.onnx" --batches "$BATCHES" --threads "$THREADS" --dynamic "$SEQ" --json > "$OUT_DIR/$m.native-ort.$r.json"
    OMP_NUM_THREADS=$THREADS "$PY" bench/onnx_torch.py "$m" --batches "$BATCHES" --threads "$THREADS" --seq "$SEQ" > "$OUT_DIR/$m.torch.$r.json"
  done
done

"$PY" - "$OUT_DIR" "$ROUNDS" "$MODELS" <<'PYEOF'
import json, sys
out, rounds, models = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
print("| model | batch | threads | Tessera native ms | ONNX Runtime ms | PyTorch ms | native/ORT | native/PyTorch | max rel. diff vs ORT |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for m in models:
    best = {}
    for r in range(1, rounds + 1):
        for row in json.load(open(f"{out}/{m}.native-ort.{r}.json")):
            b = best.setdefault(row["batch"], {"native": 1e30, "ort": 1e30, "torch": 1e30, "diff": 0, "threads": row["threads"]})
            b["native"] = min(b["native"], row["native_ms"]); b["ort"] = min(b["ort"], row["ort_ms"])
            b["diff"] = max(b["diff"], row["max_rel_diff"])
        for row in json.load(open(f"{out}/{m}.torch.{r}.json")):
            best[row["batch"]]["torch"] = min(best[row["batch"]]["torch"], row["torch_ms"])
    for batch, b in sorted(best.items()):
        print(f"| {m} | {batch} | {b['threads']} | {b['native']:.1f} | {b['ort']:.1f} | {b['torch']:.1f} | {b['native']/b['ort']:.2f} | {b['native']/b['torch']:.2f} | {b['diff']:.1e} |")
PYEOF
