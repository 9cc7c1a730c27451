#!/usr/bin/env bash
# Dynamic batching on vs off for resnet18 (torchvision, random weights, opset 13, dynamic batch) served by
# `tessera serve` on ONNX Runtime, REST binary tensors, wrk at concurrency 1/16/64 (one model instance each).
# Needs the ONNX file made by the onnx branch's tools/onnx/export_torchvision.py
# (default ~/.cache/tessera/onnx/resnet18.onnx; pass another path as $1).
# Usage: bench/serve_resnet.sh [MODEL.onnx] [SECONDS]   (writes bench/out/serve-resnet/results.md)
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-$HOME/.cache/tessera/onnx/resnet18.onnx}"; secs="${2:-10}"
[ -f "$model" ] || { echo "no $model: run tools/onnx/export_torchvision.py (onnx branch) first"; exit 1; }
out=bench/out/serve-resnet; repo="$out/repo"; rm -rf "$repo"; mkdir -p "$repo"
for m in resnet18 resnet18_batched; do
  mkdir -p "$repo/$m/1"; cp "$model" "$repo/$m/1/model.onnx"
  {
    echo "name: \"$m\""
    echo 'max_batch_size: 16'
    echo 'input [ { name: "input" data_type: TYPE_FP32 dims: [ 3, 224, 224 ] } ]'
    echo 'output [ { name: "logits" data_type: TYPE_FP32 dims: [ 1000 ] } ]'
    echo 'instance_group [ { count: 1 } ]'
    echo 'parameters { key: "engine" value: { string_value: "onnxruntime" } }'
    [ $m = resnet18_batched ] && echo 'dynamic_batching { max_queue_delay_microseconds: 2000 preferred_batch_size: [ 8, 16 ] }'
  } > "$repo/$m/config.pbtxt"
done
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
dotnet build -c Release src/Tessera.Cli -v q -nologo >/dev/null
HTTP=18180
dotnet src/Tessera.Cli/bin/Release/net10.0/Tessera.Cli.dll serve --repository "$repo" --host 127.0.0.1 --http-port $HTTP --grpc-port 0 --preload > "$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for i in $(seq 120); do curl -sf -o /dev/null "http://127.0.0.1:$HTTP/v2/health/ready" && break; sleep 0.5; done
header='{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3,224,224],"parameters":{"binary_data_size":602112}}],"parameters":{"binary_data_output":true}}'
python3 - "$out/image.bin" "$header" <<'PY'
import struct, sys, random
random.seed(0)
h = sys.argv[2].encode()
open(sys.argv[1], "wb").write(h + struct.pack("<150528f", *[random.random() for _ in range(150528)]))
PY
cat > "$out/image.lua" <<LUA
wrk.method = "POST"; wrk.headers["Content-Type"] = "application/octet-stream"; wrk.headers["Inference-Header-Content-Length"] = "${#header}"
local f = io.open("$out/image.bin", "rb"); wrk.body = f:read("*a"); f:close()
LUA
point() { # model conns
  wrk -t$(( $2 < 2 ? 1 : 2 )) -c$2 -d${secs}s --timeout 30s --latency -s "$out/image.lua" "http://127.0.0.1:$HTTP/v2/models/$1/infer" | awk '
    function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return (v+0)*1000; if (v ~ /s$/) return (v+0)*1e6; return v }
    /^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) } /^Requests\/sec/ { q = $2 } /Non-2xx/ { bad = $NF }
    END { printf "%.1f %.0f %.0f %s\n", q, p50 / 1000, p99 / 1000, (bad == "" ? 0 : bad) }'
}
for m in resnet18 resnet18_batched; do wrk -t1 -c2 -d3s --timeout 30s -s "$out/image.lua" "http://127.0.0.1:$HTTP/v2/models/$m/infer" >/dev/null; done
echo "| concurrency | batching off QPS | p50 ms | p99 ms | batching on QPS | p50 ms | p99 ms | on / off |" > "$out/results.md"
echo "|---|---|---|---|---|---|---|---|" >> "$out/results.md"
for c in 1 16 64; do
  read oq o50 o99 obad <<<"$(point resnet18 $c)"
  read bq b50 b99 bbad <<<"$(point resnet18_batched $c)"
  echo "| $c | $oq | $o50 | $o99 | $bq | $b50 | $b99 | $(awk -v a=$bq -v b=$oq 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') |" >> "$out/results.md"
  echo "concurrency $c done (non-2xx: $obad / $bbad)" >&2
done
curl -s "http://127.0.0.1:$HTTP/metrics" | grep -E '^tessera_inference_batch_size_(sum|count)' >> "$out/results.md" || true
cat "$out/results.md"
