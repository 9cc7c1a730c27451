#!/usr/bin/env bash
# Segmentation throughput of Tessera beside jieba 0.42 (Python) and @node-rs/jieba 2.0.3 (jieba-rs), in one run, on the
# corpus from make_corpus.sh: accurate mode with the HMM, line by line, words returned as strings; 1 and 2 threads
# (Python: processes). Also dictionary load time and memory. Results: bench/out/text/speed.jsonl
# usage: bench/text/speed.sh [SECONDS]     Needs /usr/bin/python3 + python3-jieba, node + npm, the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-5}"
bench/text/make_corpus.sh >/dev/null
corpus=bench/out/text/zh_man.txt
out=bench/out/text/speed.jsonl; : > "$out"
node_dir="${NODE_JIEBA_DIR:-$(mktemp -d)}"
if [ ! -d "$node_dir/node_modules/@node-rs/jieba" ]; then
  (cd "$node_dir" && npm init -y >/dev/null 2>&1 && npm install --no-audit --no-fund @node-rs/jieba@2.0.3 >/dev/null 2>&1)
fi
dotnet build -c Release src/Tessera.Cli -v q -nologo >/dev/null
tessera() { dotnet src/Tessera.Cli/bin/Release/net10.0/Tessera.Cli.dll "$@"; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); corpus $(wc -c <"$corpus") bytes" | tee -a "$out"
for threads in 1 2; do
  tessera text bench "$corpus" --threads "$threads" --seconds "$secs" | tee -a "$out"
  tessera text bench "$corpus" --threads "$threads" --seconds "$secs" --spans | tee -a "$out"
  NODE_PATH="$node_dir/node_modules" node bench/text/nodejieba_speed.js "$corpus" "$threads" "$secs" | tee -a "$out"
  /usr/bin/python3 bench/text/jieba_speed.py "$corpus" "$threads" 2 | tee -a "$out"
done
