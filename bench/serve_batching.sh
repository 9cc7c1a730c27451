#!/usr/bin/env bash
# Where dynamic batching pays on a CPU box: small models whose per-call cost (engine dispatch, tensor copies,
# scheduling) dominates their arithmetic. The bundled Fashion-MNIST CNN (models/fashion-mnist, trained by Tessera)
# on the native engine and on ONNX Runtime, and Triton's `simple` (ONNX Runtime), each served twice from one
# server, batching off and on (same instance count), REST binary with wrk at each concurrency. Per point the
# server's own /metrics give the executed mean batch size, queue wait and compute per batch. Then the engines'
# own per-image gain from batching, in-process (Tessera.ServeBench batch-gain), for the CNN.
# Usage: bench/serve_batching.sh [SECONDS]   (writes bench/out/serve-batching/results.md; ~2.5 min at 8 s)
# Knobs: CONCURRENCY ("64"), INSTANCES (1), DELAY_US max_queue_delay (500), MAX_BATCH for the CNN (64).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS; phase() { echo "[$((SECONDS - t0)) s] $*" >&2; }
secs="${1:-8}"; CONCURRENCY=${CONCURRENCY:-64}; INSTANCES=${INSTANCES:-1}; DELAY_US=${DELAY_US:-500}; MAX_BATCH=${MAX_BATCH:-64}
out=bench/out/serve-batching; repo="$out/repo"; rm -rf "$repo"; mkdir -p "$repo"
# model name, source dir, engine, max batch, input dims, output dims, input/output type, input/output names
make_model() { # name src engine maxb batched
  mkdir -p "$repo/$1/1"; cp "$2/1/model.onnx" "$repo/$1/1/model.onnx"
  sed -e '/^#/d' -e '/^platform/d' -e '/^max_batch_size/d' -e '/^dynamic_batching/,/^}/d' -e "s/^name: .*/name: \"$1\"/" "$2/config.pbtxt" > "$repo/$1/config.pbtxt"
  {
    echo "max_batch_size: $4"
    echo "instance_group [ { count: $INSTANCES } ]"
    echo "parameters { key: \"engine\" value: { string_value: \"$3\" } }"
    if [ "$5" = on ]; then echo "dynamic_batching { max_queue_delay_microseconds: $DELAY_US }"; fi
  } >> "$repo/$1/config.pbtxt"
}
for b in off on; do
  make_model fmnist_native_$b models/fashion-mnist tessera $MAX_BATCH $b
  make_model fmnist_ort_$b models/fashion-mnist onnxruntime $MAX_BATCH $b
  make_model simple_$b models/simple onnxruntime 8 $b
done
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
phase building
dotnet build -c Release src/Tessera.Cli -v q -nologo >/dev/null
dotnet build -c Release bench/Tessera.ServeBench -v q -nologo >/dev/null
phase "starting the server"
bench="dotnet bench/Tessera.ServeBench/bin/Release/net10.0/Tessera.ServeBench.dll"
HTTP=18280
dotnet src/Tessera.Cli/bin/Release/net10.0/Tessera.Cli.dll serve --repository "$repo" --host 127.0.0.1 --http-port $HTTP --grpc-port 0 --preload > "$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for i in $(seq 240); do curl -sf -o /dev/null "http://127.0.0.1:$HTTP/v2/health/ready" && break; sleep 0.5; done

python3 - "$out" <<'PY'
import struct, sys, random
out = sys.argv[1]; random.seed(0)
def write(name, header, payload):
    h = header.encode()
    open(f"{out}/{name}.bin", "wb").write(h + payload)
    open(f"{out}/{name}.len", "w").write(str(len(h)))
write("fmnist", '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,1,28,28],"parameters":{"binary_data_size":3136}}],"parameters":{"binary_data_output":true}}',
      struct.pack("<784f", *[random.random() for _ in range(784)]))
write("simple", '{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}}],"parameters":{"binary_data_output":true}}',
      struct.pack("<16i", *range(16)) + struct.pack("<16i", *[1] * 16))
PY
for b in fmnist simple; do
  cat > "$out/$b.lua" <<LUA
wrk.method = "POST"; wrk.headers["Content-Type"] = "application/octet-stream"; wrk.headers["Inference-Header-Content-Length"] = "$(cat "$out/$b.len")"
local f = io.open("$out/$b.bin", "rb"); wrk.body = f:read("*a"); f:close()
LUA
done
hist() { # metric model -> "sum count"
  curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v n="tessera_inference_$1" -v m="$2" '
    index($0, n "_") != 1 || index($0, "model=\"" m "\"") == 0 { next }
    $1 ~ /_sum/ { s = $NF } $1 ~ /_count/ { c = $NF } END { printf "%s %s\n", s + 0, c + 0 }'
}
snap() { echo "$(hist batch_size $1) $(hist queue_seconds $1) $(hist compute_seconds $1) $(hist overhead_seconds $1)"; }
point() { # model lua conns -> "qps p50_ms p99_ms non2xx mean_batch queue_ms compute_ms_per_batch overhead_us"
  local s0 s1 w
  s0=$(snap $1)
  w=$(wrk -t$(( $3 < 2 ? 1 : 2 )) -c$3 -d${secs}s --timeout 30s --latency -s "$out/$2.lua" "http://127.0.0.1:$HTTP/v2/models/$1/infer")
  s1=$(snap $1)
  echo "$w" | awk -v a="$s0" -v b="$s1" '
    function ms(v) { if (v ~ /us$/) return (v+0)/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return (v+0)*1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { q = $2 } /Non-2xx/ { bad = $NF }
    END { split(a, x, " "); split(b, y, " ")
      rows = y[1] - x[1]; batches = y[2] - x[2]; qs = y[3] - x[3]; n = y[4] - x[4]; c = y[5] - x[5]; o = y[7] - x[7]
      printf "%.0f %.2f %.2f %d %.1f %.2f %.2f %.0f\n", q, p50, p99, bad + 0, (batches > 0 ? rows / batches : 0), (n > 0 ? qs / n * 1e3 : 0),
        (n > 0 ? c / n * 1e3 : 0), (n > 0 ? o / n * 1e6 : 0) }'
}
phase "warming up"
# Warm-up.
for m in fmnist_native fmnist_ort simple; do for b in off on; do
  l=${m%%_*}; wrk -t1 -c4 -d2s -s "$out/$l.lua" "http://127.0.0.1:$HTTP/v2/models/${m}_$b/infer" >/dev/null
done; done
{
  echo "instances $INSTANCES, max_queue_delay $DELAY_US µs, CNN max_batch_size $MAX_BATCH (simple 8), $secs s per point; start $(date -u +%H:%M) UTC, $(uptime | sed 's/.*load/load/')"
  echo
  echo "| model | engine | concurrency | off QPS | off p50 ms | off p99 ms | on QPS | on p50 ms | on p99 ms | non-2xx off/on | mean batch | queue ms | compute ms/batch (on) | compute ms/req (off) | overhead µs off/on | on / off | load |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$out/results.md"
for c in $CONCURRENCY; do
  for m in fmnist_native fmnist_ort simple; do
    l=${m%%_*}
    read oq o50 o99 obad _ _ ocomp oovh <<<"$(point ${m}_off $l $c)"
    read bq b50 b99 bbad mb bqueue bcomp bovh <<<"$(point ${m}_on $l $c)"
    engine=$([ $m = fmnist_native ] && echo tessera || echo onnxruntime)
    echo "| ${l/fmnist/fashion-mnist CNN} | $engine | $c | $oq | $o50 | $o99 | $bq | $b50 | $b99 | $obad/$bbad | $mb | $bqueue | $bcomp | $ocomp | $oovh/$bovh | $(awk -v a=$bq -v b=$oq 'BEGIN { printf "%.2f", a / b }') | $(cut -d' ' -f1 /proc/loadavg) |" >> "$out/results.md"
  done
  phase "concurrency $c done"
done
kill $server; wait $server 2>/dev/null || true
phase "in-process batch-gain"
{
  echo
  echo "In-process, the engines' own per-image time by batch size (batch-gain, 2 threads, 20 reps):"
  echo
  echo '```'
  $bench batch-gain models/fashion-mnist/1/model.onnx 2 20 1,8,32,64 2>/dev/null
  echo '```'
  echo "end $(date -u +%H:%M) UTC, $(uptime | sed 's/.*load/load/')"
} >> "$out/results.md"
phase done
cat "$out/results.md"
