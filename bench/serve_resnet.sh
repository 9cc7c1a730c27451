#!/usr/bin/env bash
# resnet18 (torchvision, random weights, opset 13, dynamic batch) served by `tessera serve`, REST binary tensors,
# wrk at concurrency 1/16/64: dynamic batching off vs on, and the same backend called in-process at the same
# concurrency (Tessera.ServeBench inproc). Per point the server's own /metrics give the executed batch size,
# queue wait and compute time (differences over that point only).
# Needs the ONNX file made by the onnx branch's tools/onnx/export_torchvision.py
# (default ~/.cache/tessera/onnx/resnet18.onnx; pass another path as $1).
# Usage: bench/serve_resnet.sh [MODEL.onnx] [SECONDS]   (writes bench/out/serve-resnet/results.md)
# Knobs (environment): ENGINE onnxruntime|tessera (onnxruntime), INSTANCES (1), THREADS intra-op threads per
# instance (ORT default = cores), SPIN 1 turns ORT's spin-waiting back on (the server turns it off), MAX_BATCH (16), PREFERRED ("8, 16"),
# DELAY_US max_queue_delay (2000), CONCURRENCY ("1 16 64"), INPROC 0 skips the in-process column.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-$HOME/.cache/tessera/onnx/resnet18.onnx}"; secs="${2:-10}"
[ -n "$model" ] || model="$HOME/.cache/tessera/onnx/resnet18.onnx"
[ -f "$model" ] || { echo "no $model: run tools/onnx/export_torchvision.py (onnx branch) first"; exit 1; }
ENGINE=${ENGINE:-onnxruntime}; INSTANCES=${INSTANCES:-1}; THREADS=${THREADS:-}; SPIN=${SPIN:-}
MAX_BATCH=${MAX_BATCH:-16}; PREFERRED=${PREFERRED:-8, 16}; DELAY_US=${DELAY_US:-2000}; CONCURRENCY=${CONCURRENCY:-1 16 64}; INPROC=${INPROC:-1}
out=bench/out/serve-resnet; repo="$out/repo"; rm -rf "$repo"; mkdir -p "$repo"
for m in resnet18 resnet18_batched; do
  mkdir -p "$repo/$m/1"; cp "$model" "$repo/$m/1/model.onnx"
  {
    echo "name: \"$m\""
    echo "max_batch_size: $MAX_BATCH"
    echo 'input [ { name: "input" data_type: TYPE_FP32 dims: [ 3, 224, 224 ] } ]'
    echo 'output [ { name: "logits" data_type: TYPE_FP32 dims: [ 1000 ] } ]'
    echo "instance_group [ { count: $INSTANCES } ]"
    echo "parameters { key: \"engine\" value: { string_value: \"$ENGINE\" } }"
    [ -n "$THREADS" ] && echo "parameters { key: \"intra_op_threads\" value: { string_value: \"$THREADS\" } }"
    [ -n "$SPIN" ] && echo "parameters { key: \"allow_spinning\" value: { string_value: \"$SPIN\" } }"
    [ $m = resnet18_batched ] && echo "dynamic_batching { max_queue_delay_microseconds: $DELAY_US preferred_batch_size: [ $PREFERRED ] }"
  } > "$repo/$m/config.pbtxt"
done
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
dotnet build -c Release src/Tessera.Cli -v q -nologo >/dev/null
dotnet build -c Release bench/Tessera.ServeBench -v q -nologo >/dev/null
bench="dotnet bench/Tessera.ServeBench/bin/Release/net10.0/Tessera.ServeBench.dll"
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
# Sums of the server's histograms for one model: batch rows, batches, queue seconds, requests, compute seconds.
stats() {
  curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v m="$1" '
    index($0, "{model=\"" m "\"") == 0 { next }
    /^tessera_inference_batch_size_sum/ { r = $NF } /^tessera_inference_batch_size_count/ { b = $NF }
    /^tessera_inference_queue_seconds_sum/ { q = $NF } /^tessera_inference_queue_seconds_count/ { n = $NF }
    /^tessera_inference_compute_seconds_sum/ { c = $NF }
    END { printf "%s %s %s %s %s\n", r + 0, b + 0, q + 0, n + 0, c + 0 }'
}
point() { # model conns -> qps p50 p99 non2xx mean-batch queue-ms compute-ms-per-batch
  read r0 b0 q0 n0 c0 <<<"$(stats $1)"
  local w; w=$(wrk -t$(( $2 < 2 ? 1 : 2 )) -c$2 -d${secs}s --timeout 30s --latency -s "$out/image.lua" "http://127.0.0.1:$HTTP/v2/models/$1/infer")
  read r1 b1 q1 n1 c1 <<<"$(stats $1)"
  echo "$w" | awk -v r=$((r1 - r0)) -v b=$((b1 - b0)) -v q="$(awk -v a=$q1 -v b=$q0 'BEGIN{print a-b}')" -v n=$((n1 - n0)) \
      -v c="$(awk -v a=$c1 -v b=$c0 'BEGIN{print a-b}')" '
    function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return (v+0)*1000; if (v ~ /s$/) return (v+0)*1e6; return v }
    /^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) } /^Requests\/sec/ { qps = $2 } /Non-2xx/ { bad = $NF }
    END { printf "%.1f %.0f %.0f %s %.1f %.0f %.0f\n", qps, p50 / 1000, p99 / 1000, (bad == "" ? 0 : bad),
          (b > 0 ? r / b : 0), (n > 0 ? q / n * 1000 : 0), (n > 0 ? c / n * 1000 : 0) }'
}
for m in resnet18 resnet18_batched; do wrk -t1 -c2 -d3s --timeout 30s -s "$out/image.lua" "http://127.0.0.1:$HTTP/v2/models/$m/infer" >/dev/null; done
{
  echo "engine $ENGINE, instances $INSTANCES, threads ${THREADS:-default}, spin ${SPIN:-default}, max_batch $MAX_BATCH, preferred [$PREFERRED], delay ${DELAY_US} us; $(uptime | sed 's/.*load/load/')"
  echo
  echo "| concurrency | off QPS | p50 ms | p99 ms | off compute ms | on QPS | p50 ms | p99 ms | mean batch | queue ms | compute ms/batch | on / off | in-process QPS | off / in-process |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$out/results.md"
for c in $CONCURRENCY; do
  read oq o50 o99 obad _ _ ocomp <<<"$(point resnet18 $c)"
  read bq b50 b99 bbad mb bqueue bcomp <<<"$(point resnet18_batched $c)"
  iq=""; ratio=""
  if [ "$INPROC" = 1 ]; then
    kill -STOP $server  # the in-process run gets the cores the server would use
    read iq _ _ <<<"$($bench inproc "$repo/resnet18" $c $secs 2>/dev/null)"
    kill -CONT $server
    ratio=$(awk -v a=$oq -v b=$iq 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  fi
  echo "| $c | $oq | $o50 | $o99 | $ocomp | $bq | $b50 | $b99 | $mb | $bqueue | $bcomp | $(awk -v a=$bq -v b=$oq 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') | $iq | $ratio |" >> "$out/results.md"
  echo "concurrency $c done (non-2xx: $obad / $bbad)" >&2
done
echo "(compute ms: the server's compute histogram per request, i.e. the whole batch's time, not per image)" >> "$out/results.md"
cat "$out/results.md"
