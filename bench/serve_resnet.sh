#!/usr/bin/env bash
# resnet18 (torchvision, random weights, opset 13, dynamic batch) served by `tessera serve`, one command for the
# whole table of issue 5: per concurrency (1/16/64/256) and protocol (REST binary, REST JSON with wrk; gRPC
# raw_input_contents with h2load): QPS, p50, p99, non-2xx, the server's own overhead per request and compute per
# request (from /metrics, differenced over the point); the same backend called in-process at that concurrency
# (Tessera.ServeBench inproc, server and peer paused; at most INSTANCES calls at once, as the server runs them); the hand-written ASP.NET Core + ONNX Runtime peer
# (Tessera.ServeBench peer) over the same REST body, binary and JSON. Then dynamic batching on vs off at
# concurrency BATCH_AT (REST binary) with the executed mean batch size.
# Needs the ONNX file made by the onnx branch's tools/onnx/export_torchvision.py
# (default ~/.cache/tessera/onnx/resnet18.onnx; pass another path as $1).
# Usage: bench/serve_resnet.sh [MODEL.onnx] [SECONDS]   (writes bench/out/serve-resnet-$ENGINE/results.md)
#   about 7 minutes at the default 8 s per point (points at concurrency 256 run twice as long), plus building.
# Knobs (environment): ENGINE onnxruntime|tessera (onnxruntime), INSTANCES (2), THREADS ORT intra-op threads per
# instance (1; "" = ORT default = cores), SPIN 1 turns ORT's spin-waiting back on (the server turns it off),
# MAX_BATCH (16), PREFERRED ("8, 16"), DELAY_US max_queue_delay (2000), CONCURRENCY ("1 16 64 256"),
# BATCH_AT ("64"), PROTOCOLS ("binary json grpc"), INPROC 0 skips the in-process column, PEER 0 skips the peer,
# PEER_SPIN 0 turns the peer's spin-waiting off (default: ORT's default, on, as a user would leave it).
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-$HOME/.cache/tessera/onnx/resnet18.onnx}"; secs="${2:-8}"
[ -n "$model" ] || model="$HOME/.cache/tessera/onnx/resnet18.onnx"
[ -f "$model" ] || { echo "no $model: run tools/onnx/export_torchvision.py (onnx branch) first"; exit 1; }
ENGINE=${ENGINE:-onnxruntime}; INSTANCES=${INSTANCES:-2}; THREADS=${THREADS-1}; SPIN=${SPIN:-}
MAX_BATCH=${MAX_BATCH:-16}; PREFERRED=${PREFERRED:-8, 16}; DELAY_US=${DELAY_US:-2000}
CONCURRENCY=${CONCURRENCY:-1 16 64 256}; BATCH_AT=${BATCH_AT:-64}; PROTOCOLS=${PROTOCOLS:-binary json grpc}
INPROC=${INPROC:-1}; PEER=${PEER:-1}; PEER_SPIN=${PEER_SPIN:-1}
t0=$SECONDS; phase() { echo "[$((SECONDS - t0)) s] $*" >&2; }
out=bench/out/serve-resnet-$ENGINE; repo="$out/repo"; rm -rf "$repo"; mkdir -p "$repo"
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
command -v wrk >/dev/null && command -v h2load >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk nghttp2-client; }
phase building
dotnet build -c Release src/Tessera.Cli -v q -nologo >/dev/null
dotnet build -c Release bench/Tessera.ServeBench -v q -nologo >/dev/null
phase "starting the server and the peer"
bench="dotnet bench/Tessera.ServeBench/bin/Release/net10.0/Tessera.ServeBench.dll"
HTTP=18180 GRPC=18181 PEERPORT=18190
dotnet src/Tessera.Cli/bin/Release/net10.0/Tessera.Cli.dll serve --repository "$repo" --host 127.0.0.1 \
  --http-port $HTTP --grpc-port $GRPC --preload > "$out/server.log" 2>&1 &
server=$!; peer=""
if [ "$PEER" = 1 ]; then
  $bench peer $PEERPORT "$model" $([ "$PEER_SPIN" = 1 ] || echo nospin) > "$out/peer.log" 2>&1 &
  peer=$!
fi
trap 'kill -CONT $server $peer 2>/dev/null; kill $server $peer 2>/dev/null || true' EXIT
for i in $(seq 240); do curl -sf -o /dev/null "http://127.0.0.1:$HTTP/v2/health/ready" && break; sleep 0.5; done
[ -z "$peer" ] || for i in $(seq 120); do curl -s -o /dev/null "http://127.0.0.1:$PEERPORT/" && break; sleep 0.5; done

phase "writing request bodies"
# Request bodies: the same seeded image (float32 values in [0, 1)) as binary tensor, OIP JSON and gRPC.
header='{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3,224,224],"parameters":{"binary_data_size":602112}}],"parameters":{"binary_data_output":true}}'
python3 - "$out" "$header" <<'PY'
import struct, sys, random
out, h = sys.argv[1], sys.argv[2].encode()
random.seed(0)
raw = struct.pack("<150528f", *[random.random() for _ in range(150528)])
vals = struct.unpack("<150528f", raw)
open(out + "/image.bin", "wb").write(h + raw)
# Shortest text that reads back as the same float32, as a JSON client with float32 arrays would send it.
def f32(v):
    for d in range(6, 10):
        s = "%.*g" % (d, v)
        if struct.unpack("<f", struct.pack("<f", float(s)))[0] == v: return s
    return repr(v)
data = ",".join(f32(v) for v in vals)
open(out + "/image.json", "w").write('{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3,224,224],"data":[' + data + ']}]}')
PY
$bench grpc-body "$out/image.grpc" "resnet18:input:1,3,224,224"
cat > "$out/binary.lua" <<LUA
wrk.method = "POST"; wrk.headers["Content-Type"] = "application/octet-stream"; wrk.headers["Inference-Header-Content-Length"] = "${#header}"
local f = io.open("$out/image.bin", "rb"); wrk.body = f:read("*a"); f:close()
LUA
cat > "$out/json.lua" <<LUA
wrk.method = "POST"; wrk.headers["Content-Type"] = "application/json"
local f = io.open("$out/image.json", "rb"); wrk.body = f:read("*a"); f:close()
LUA

# "sum count" of one of the server's histograms for a model (and protocol, for overhead).
hist() { # metric model [protocol]
  curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v n="tessera_inference_$1" -v m="$2" -v p="${3:-}" '
    index($0, n "_") != 1 || index($0, "model=\"" m "\"") == 0 { next }
    p != "" && index($0, "protocol=\"" p "\"") == 0 { next }
    $1 ~ /_sum/ { s = $NF } $1 ~ /_count/ { c = $NF }
    END { printf "%s %s\n", s + 0, c + 0 }'
}
# Requests the server counted as failed for a model (gRPC errors travel in trailers under HTTP 200, so h2load's
# status codes cannot see them).
# "failed cancelled": 499 = the client went away, which wrk and h2load do to the requests in flight when a point ends.
failures() { curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v m="$1" 'index($0, "tessera_inference_requests_total{model=\"" m "\"") != 1 || /outcome="success"/ { next }
  /outcome="499"/ { k += $NF; next } { f += $NF } END { print f + 0, k + 0 }'; }
snap() { echo "$(hist batch_size $1) $(hist queue_seconds $1) $(hist compute_seconds $1) $(hist overhead_seconds $1 $2) $(hist receive_seconds $1 $2) $(failures $1)"; }
# Per-point server figures from two snapshots: mean batch, queue ms/req, compute ms/req, overhead µs/req,
# receive ms/req, failed requests, cancelled requests.
server_delta() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
    rows = y[1] - x[1]; batches = y[2] - x[2]; q = y[3] - x[3]; n = y[4] - x[4]; c = y[5] - x[5]; o = y[7] - x[7]; on = y[8] - x[8]
    r = y[9] - x[9]
    printf "%.1f %.1f %.1f %.0f %.1f %d %d\n", (batches > 0 ? rows / batches : 0), (n > 0 ? q / n * 1e3 : 0), (n > 0 ? c / n * 1e3 : 0),
      (on > 0 ? o / on * 1e6 : 0), (on > 0 ? r / on * 1e3 : 0), y[11] - x[11], y[12] - x[12] }'
}
dur() { echo $(( $1 >= 256 ? secs * 2 : secs )); }
# wrk: "QPS p50_ms p99_ms non2xx".
wrk_point() { # lua url conns
  wrk -t$(( $3 < 2 ? 1 : 2 )) -c$3 -d$(dur $3)s --timeout 60s --latency -s "$1" "$2" | awk '
    function ms(v) { if (v ~ /us$/) return (v+0)/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return (v+0)*1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { q = $2 } /Non-2xx/ { bad = $NF }
    /Socket errors/ { err = $0 }
    END { printf "%.1f %.0f %.0f %s\n", q, p50, p99, (bad == "" ? 0 : bad) + 0; if (err != "") print err > "/dev/stderr" }'
}
# h2load over gRPC: same fields; latencies from its per-request log (µs, third column).
h2_point() { # conns (the body names resnet18)
  rm -f "$out/h2.log"  # h2load appends to its log file: without this a point's percentiles include earlier points
  h2load -D $(dur $1) -c $1 -m 1 -t $(( $1 < 2 ? 1 : 2 )) -H 'content-type: application/grpc' -H 'te: trailers' -d "$out/image.grpc" \
    --log-file "$out/h2.log" "http://127.0.0.1:$GRPC/inference.GRPCInferenceService/ModelInfer" > "$out/h2.txt"
  local q=$(awk '/^finished in/ { gsub(",", "", $4); print $4 }' "$out/h2.txt")
  local bad=$(awk '/^status codes:/ { gsub(",", "", $5); print $5+0 }' "$out/h2.txt")
  sort -n -k3 "$out/h2.log" | awk -v q="$q" -v bad="${bad:-0}" '{ a[NR] = $3 } END { printf "%.1f %.0f %.0f %s\n", q, a[int(NR*0.5)+0]/1000, a[int(NR*0.99)+0]/1000, bad }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

phase warming up
# Warm-up (JIT, arenas) of every endpoint that will be measured.
for m in resnet18 resnet18_batched; do wrk -t1 -c2 -d3s --timeout 60s -s "$out/binary.lua" "http://127.0.0.1:$HTTP/v2/models/$m/infer" >/dev/null; done
wrk -t1 -c2 -d2s --timeout 60s -s "$out/json.lua" "http://127.0.0.1:$HTTP/v2/models/resnet18/infer" >/dev/null
h2load -n 20 -c 2 -H 'content-type: application/grpc' -H 'te: trailers' -d "$out/image.grpc" "http://127.0.0.1:$GRPC/inference.GRPCInferenceService/ModelInfer" >/dev/null
if [ -n "$peer" ]; then for l in binary json; do wrk -t1 -c2 -d2s --timeout 60s -s "$out/$l.lua" "http://127.0.0.1:$PEERPORT/v2/models/resnet18/infer" >/dev/null; done; fi

# Correctness: the served logits for the same image against the peer's (ONNX Runtime called directly).
check=""
if [ -n "$peer" ]; then
  check=$(python3 - "$out/image.json" $HTTP $PEERPORT <<'PY'
import json, sys, urllib.request
body = open(sys.argv[1], "rb").read()
def logits(port):
    r = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v2/models/resnet18/infer", body, {"Content-Type": "application/json"}))
    return json.load(r)["outputs"][0]["data"]
a, b = logits(sys.argv[2]), logits(sys.argv[3])
diff = max(abs(x - y) for x, y in zip(a, b)); scale = max(abs(y) for y in b)
print(f"served logits vs peer (ORT): max |diff| {diff:.2e} (max |logit| {scale:.2f}), top-1 {a.index(max(a))} vs {b.index(max(b))}")
PY
)
fi
engine_line=$(curl -s "http://127.0.0.1:$HTTP/api/dashboard" | grep -o '"engine":"[a-z]*"' | sort -u | tr '\n' ' ' || true)
{
  [ -z "$check" ] || { echo "$check"; echo; }
  echo "engine $ENGINE ${engine_line:+($engine_line)}, instances $INSTANCES, ORT threads ${THREADS:-default}, spin ${SPIN:-default}, peer spin $PEER_SPIN, $secs s per point (2x at 256); start $(date -u +%H:%M) UTC, $(uptime | sed 's/.*load/load/')"
  echo
  echo "| concurrency | protocol | tessera QPS | p50 ms | p99 ms | non-2xx / failed (cancelled) | server overhead µs/req | receive ms/req | compute ms/req | in-process QPS | server / in-process | peer QPS | peer p50 ms | peer p99 ms | peer non-2xx | tessera / peer | load |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$out/results.md"
declare -A offq
for c in $CONCURRENCY; do
  rows=(); qs=()
  for p in $PROTOCOLS; do
    pq=""; pp50=""; pp99=""; pbad=""; pr=""
    if [ $p = grpc ]; then
      s0=$(snap resnet18 grpc); read q p50 p99 bad <<<"$(h2_point $c)"; s1=$(snap resnet18 grpc)
      name="gRPC (h2load)"
    else
      s0=$(snap resnet18 http); read q p50 p99 bad <<<"$(wrk_point "$out/$p.lua" "http://127.0.0.1:$HTTP/v2/models/resnet18/infer" $c)"; s1=$(snap resnet18 http)
      name="REST $p"
      if [ -n "$peer" ]; then
        read pq pp50 pp99 pbad <<<"$(wrk_point "$out/$p.lua" "http://127.0.0.1:$PEERPORT/v2/models/resnet18/infer" $c)"
        pr=$(ratio $q $pq)
      fi
    fi
    [ $p = binary ] && offq[$c]=$q
    read _ _ comp ovh recv failed cancelled <<<"$(server_delta "$s0" "$s1")"
    qs+=("$q")
    rows+=("| $c | $name | $q | $p50 | $p99 | $bad / $failed ($cancelled) | $ovh | $recv | $comp | @IQ@ | @RATIO@ | $pq | $pp50 | $pp99 | $pbad | $pr | $(cut -d' ' -f1 /proc/loadavg) |")
  done
  iq=""
  if [ "$INPROC" = 1 ]; then
    kill -STOP $server $peer  # the in-process run gets the cores the server and peer would use
    read iq _ _ <<<"$($bench inproc "$repo/resnet18" $c $(dur $c) 1 $INSTANCES 2>/dev/null)"
    kill -CONT $server $peer
  fi
  for i in "${!rows[@]}"; do
    r=""; [ -n "$iq" ] && r=$(ratio "${qs[$i]}" "$iq")
    echo "${rows[$i]}" | sed "s/@IQ@/$iq/; s/@RATIO@/$r/" >> "$out/results.md"
  done
  phase "concurrency $c done"
done
{
  echo
  echo "Dynamic batching (REST binary; max_batch_size $MAX_BATCH, preferred [$PREFERRED], max_queue_delay $DELAY_US µs):"
  echo
  echo "| concurrency | off QPS | on QPS | p50 ms | p99 ms | non-2xx / failed (cancelled) | mean batch | queue ms | compute ms/batch | on / off | load |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >> "$out/results.md"
for c in $BATCH_AT; do
  s0=$(snap resnet18_batched http); read q p50 p99 bad <<<"$(wrk_point "$out/binary.lua" "http://127.0.0.1:$HTTP/v2/models/resnet18_batched/infer" $c)"; s1=$(snap resnet18_batched http)
  read mb qms comp _ _ failed cancelled <<<"$(server_delta "$s0" "$s1")"
  off=${offq[$c]:-}
  if [ -z "$off" ]; then read off _ _ _ <<<"$(wrk_point "$out/binary.lua" "http://127.0.0.1:$HTTP/v2/models/resnet18/infer" $c)"; fi
  echo "| $c | $off | $q | $p50 | $p99 | $bad / $failed ($cancelled) | $mb | $qms | $comp | $(ratio $q $off) | $(cut -d' ' -f1 /proc/loadavg) |" >> "$out/results.md"
done
phase done
echo "end $(date -u +%H:%M) UTC, $(uptime | sed 's/.*load/load/')" >> "$out/results.md"
cat "$out/results.md"
