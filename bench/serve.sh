#!/usr/bin/env bash
# Load benchmark of `tessera serve` on Triton's `simple` (bundled models/), beside its peers in the same run:
#   REST JSON and binary with wrk, gRPC with h2load, at concurrency 1/16/64/256;
#   the same engine called in-process at the same concurrency; a minimal hand-written ASP.NET Core + ONNX
#   Runtime endpoint (REST JSON and binary, the same bodies); the server's own overhead per request from /metrics
#   (request time minus the body's upload, queue and compute).
# Usage: bench/serve.sh [SECONDS_PER_POINT]   (writes bench/out/serve/results.md)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
out=bench/out/serve; mkdir -p "$out"
command -v wrk >/dev/null && command -v h2load >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk nghttp2-client; }
dotnet build -c Release src/Tessera.Cli -v q -nologo >/dev/null
dotnet build -c Release bench/Tessera.ServeBench -v q -nologo >/dev/null
bench="dotnet bench/Tessera.ServeBench/bin/Release/net10.0/Tessera.ServeBench.dll"
HTTP=18080 GRPC=18081 PEER=18090

dotnet src/Tessera.Cli/bin/Release/net10.0/Tessera.Cli.dll serve --repository models --host 127.0.0.1 \
  --http-port $HTTP --grpc-port $GRPC --preload > "$out/server.log" 2>&1 &
server=$!
$bench peer $PEER models/simple/1/model.onnx > "$out/peer.log" 2>&1 &
peer=$!
trap 'kill $server $peer 2>/dev/null || true' EXIT
for p in $HTTP $PEER; do for i in $(seq 60); do curl -sf -o /dev/null "http://127.0.0.1:$p/v2/health/ready" -X GET 2>/dev/null && break; curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.5; done; done

a='[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]'; b='[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]'
json="{\"inputs\":[{\"name\":\"INPUT0\",\"datatype\":\"INT32\",\"shape\":[1,16],\"data\":$a},{\"name\":\"INPUT1\",\"datatype\":\"INT32\",\"shape\":[1,16],\"data\":$b}]}"
printf '%s' "$json" > "$out/simple.json"
header='{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}}],"parameters":{"binary_data_output":true}}'
python3 - "$out/simple.bin" "$header" <<'PY'
import struct, sys
h = sys.argv[2].encode()
open(sys.argv[1], "wb").write(h + struct.pack("<16i", *range(16)) + struct.pack("<16i", *[1]*16))
PY
hlen=${#header}
cat > "$out/json.lua" <<LUA
wrk.method = "POST"; wrk.headers["Content-Type"] = "application/json"
local f = io.open("$out/simple.json", "rb"); wrk.body = f:read("*a"); f:close()
LUA
cat > "$out/binary.lua" <<LUA
wrk.method = "POST"; wrk.headers["Content-Type"] = "application/octet-stream"; wrk.headers["Inference-Header-Content-Length"] = "$hlen"
local f = io.open("$out/simple.bin", "rb"); wrk.body = f:read("*a"); f:close()
LUA
$bench grpc-body "$out/simple.grpc"
# Warm up both servers (JIT, ORT arenas).
wrk -t1 -c4 -d2s -s "$out/json.lua" "http://127.0.0.1:$HTTP/v2/models/simple/infer" >/dev/null
wrk -t1 -c4 -d2s -s "$out/binary.lua" "http://127.0.0.1:$HTTP/v2/models/simple/infer" >/dev/null
wrk -t1 -c4 -d2s -s "$out/json.lua" "http://127.0.0.1:$PEER/v2/models/simple/infer" >/dev/null
wrk -t1 -c4 -d2s -s "$out/binary.lua" "http://127.0.0.1:$PEER/v2/models/simple/infer" >/dev/null
h2load -n 2000 -c 4 -H 'content-type: application/grpc' -H 'te: trailers' -d "$out/simple.grpc" "http://127.0.0.1:$GRPC/inference.GRPCInferenceService/ModelInfer" >/dev/null

# wrk: "QPS p50_us p99_us" from --latency output.
wrk_point() { # script url conns
  local t=$(( $3 < 2 ? 1 : 2 ))
  wrk -t$t -c$3 -d${secs}s --latency -s "$1" "$2" | awk '
    function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return (v+0)*1000; if (v ~ /s$/) return (v+0)*1e6; return v }
    /^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) } /^Requests\/sec/ { q = $2 } /Non-2xx/ { bad = $NF }
    END { printf "%.0f %.0f %.0f %s\n", q, p50, p99, (bad == "" ? 0 : bad) }'
}
h2_point() { # conns
  local n=$(( $1 * 400 > 4000 ? $1 * 400 : 4000 ))
  rm -f "$out/h2.log"  # h2load appends to its log file: without this a point's percentiles include earlier points
  h2load -D $secs -c $1 -m 1 -t $(( $1 < 2 ? 1 : 2 )) -H 'content-type: application/grpc' -H 'te: trailers' -d "$out/simple.grpc" \
    --log-file "$out/h2.log" "http://127.0.0.1:$GRPC/inference.GRPCInferenceService/ModelInfer" > "$out/h2.txt"
  local q=$(awk '/^finished in/ { gsub(",", "", $4); print $4 }' "$out/h2.txt")
  local bad=$(awk '/^status codes:/ { gsub(",", "", $5); print $5+0 }' "$out/h2.txt")
  sort -n -k3 "$out/h2.log" | awk -v q="$q" -v bad="$bad" '{ a[NR] = $3 } END { printf "%.0f %.0f %.0f %s\n", q, a[int(NR*0.5)], a[int(NR*0.99)], bad }'
}
overhead() { curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v p="$1" '$0 ~ "tessera_inference_overhead_seconds_(sum|count)\\{model=\"simple\",protocol=\""p"\"\\}" { if ($1 ~ /_sum/) s = $2; else c = $2 } END { printf "%.6f %d\n", s, c }'; }
delta_us() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); n = y[2] - x[2]; printf "%.1f", (n > 0 ? (y[1] - x[1]) / n * 1e6 : 0) }'; }

{
echo "| concurrency | protocol | tessera QPS | p50 µs | p99 µs | non-2xx | server overhead µs/req | in-process QPS (same engine) | server / in-process | peer QPS (minimal ASP.NET+ORT, same body) | peer p50 µs | peer p99 µs | tessera / peer |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$out/results.md"
for c in 1 16 64 256; do
  read iq ip50 ip99 <<<"$($bench inproc models/simple $c $secs)"
  o0=$(overhead http); read jq jp50 jp99 jbad <<<"$(wrk_point "$out/json.lua" "http://127.0.0.1:$HTTP/v2/models/simple/infer" $c)"; o1=$(overhead http)
  read pq pp50 pp99 pbad <<<"$(wrk_point "$out/json.lua" "http://127.0.0.1:$PEER/v2/models/simple/infer" $c)"
  b0=$(overhead http); read bq bp50 bp99 bbad <<<"$(wrk_point "$out/binary.lua" "http://127.0.0.1:$HTTP/v2/models/simple/infer" $c)"; b1=$(overhead http)
  read pbq pbp50 pbp99 pbbad <<<"$(wrk_point "$out/binary.lua" "http://127.0.0.1:$PEER/v2/models/simple/infer" $c)"
  g0=$(overhead grpc); read gq gp50 gp99 gbad <<<"$(h2_point $c)"; g1=$(overhead grpc)
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
  echo "| $c | REST JSON | $jq | $jp50 | $jp99 | $jbad | $(delta_us "$o0" "$o1") | $iq | $(ratio $jq $iq) | $pq | $pp50 | $pp99 | $(ratio $jq $pq) |" >> "$out/results.md"
  echo "| $c | REST binary | $bq | $bp50 | $bp99 | $bbad | $(delta_us "$b0" "$b1") | $iq | $(ratio $bq $iq) | $pbq | $pbp50 | $pbp99 | $(ratio $bq $pbq) |" >> "$out/results.md"
  echo "| $c | gRPC (h2load) | $gq | $gp50 | $gp99 | $gbad | $(delta_us "$g0" "$g1") | $iq | $(ratio $gq $iq) | | | | |" >> "$out/results.md"
  echo "concurrency $c done" >&2
done
cat "$out/results.md"
