#!/usr/bin/env bash
# Fashion-MNIST training epoch time, Tessera beside PyTorch 1.13 (2 threads) in the same run:
# MLP at batch 64 and 256, CNN at batch 64; then the loading/compute overlap benchmark.
# Installs Debian's python3-torch and dataset-fashion-mnist if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
/usr/bin/python3 -c "import torch" 2>/dev/null || need+=(python3-torch)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
# PyTorch and numpy call whatever libblas.so.3 Debian's alternatives select; the default is the slow reference BLAS.
# The peer is "PyTorch (OpenBLAS)", so make OpenBLAS the selected BLAS, as on the reference machine.
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
dotnet build -c Release bench/Tessera.Bench -v q -nologo >/dev/null
bench="dotnet bench/Tessera.Bench/bin/Release/net10.0/Tessera.Bench.dll"
for run in "mlp 64" "mlp 256" "cnn 64"; do
  set -- $run
  t=$($bench train "$1" "$2" 1)
  p=$(/usr/bin/python3 bench/train_pytorch.py "$1" "$2" 1)
  echo "$t"; echo "$p"
  /usr/bin/python3 -c "import json,sys; t,p=json.loads(sys.argv[1]),json.loads(sys.argv[2]); print(f\"{t['model']} batch {t['batch']}: tessera {t['epoch_seconds']} s, pytorch {p['epoch_seconds']} s, ratio {t['epoch_seconds']/p['epoch_seconds']:.2f}\")" "$t" "$p"
done
echo "overlap: $($bench overlap)"
