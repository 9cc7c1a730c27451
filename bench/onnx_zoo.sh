#!/usr/bin/env bash
# Breadth check of the native ONNX engine: more torchvision architectures (opset 17, random weights, dynamic batch)
# through native Tessera and ONNX Runtime in one process (bench/Tessera.OnnxBench: alternating timing blocks,
# outputs compared). Not the issue's headline benchmark (bench/onnx.sh); this shows which architectures import,
# agree with ORT, and where the engine is slow.
#
#   bench/onnx_zoo.sh [--models a,b,...] [--batches 1] [--threads 2] [--reps 20]
#
# Note: vit_b_16's classifier head is zero-initialised by torchvision, so its outputs are all zero in both engines
# (the relative difference prints as NaN); the transformer body is covered by bench/onnx.sh's transformer_encoder.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=efficientnet_b0,shufflenet_v2_x1_0,densenet121,googlenet,mnasnet1_0,regnet_y_400mf,inception_v3,convnext_tiny,swin_t,vit_b_16
BATCHES=1
THREADS=2
REPS=20
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --batches) BATCHES=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
PY=/usr/bin/python3
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tessera/onnx-zoo
if ! "$PY" -c "import torchvision" 2>/dev/null; then
  TMPDIR=$(mktemp -d -p /var/tmp) apt-get install -y python3-torch python3-torchvision >&2
fi
IFS=, read -ra models <<<"$MODELS"
"$PY" tools/onnx/export_zoo.py "$CACHE" "${models[@]}" >&2
dotnet build -c Release bench/Tessera.OnnxBench -nologo -v q >&2
for m in "${models[@]}"; do
  bench/Tessera.OnnxBench/bin/Release/net10.0/Tessera.OnnxBench "$CACHE/$m.onnx" --batches "$BATCHES" --threads "$THREADS" --reps "$REPS"
done
