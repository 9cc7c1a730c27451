#!/usr/bin/env bash
# Core-engine benchmarks beside numpy in the same run: elementwise ops, executor overhead, buffer-pool effect.
# Installs Debian's python3-numpy if missing. Prints JSON from both sides and a ratio table.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-numpy >/dev/null
fi
dotnet build -c Release bench/Tessera.Bench -v q -nologo >/dev/null
bench="dotnet bench/Tessera.Bench/bin/Release/net10.0/Tessera.Bench.dll"
t=$($bench elementwise)
p=$(/usr/bin/python3 bench/elementwise_numpy.py)
echo "tessera elementwise: $t"
echo "numpy elementwise:   $p"
/usr/bin/python3 - "$t" "$p" <<'PY'
import json, sys
t, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'op':5} {'n':>9} {'tessera ms':>11} {'numpy ms':>9} {'speed ratio':>12}")
for a, b in zip(t, p):
    print(f"{a['op']:5} {a['n']:>9} {a['median_ms']:>11.3f} {b['median_ms']:>9.3f} {b['median_ms']/a['median_ms']:>11.2f}x")
PY
echo "executor: $($bench executor)"
echo "pool:     $($bench pool)"
