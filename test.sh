#!/usr/bin/env bash
# Runs the whole Tessera test suite and ends with one line "N passed, N failed".
# Installs what the tests need first (the .NET packages restore from NuGet on the way).
set -uo pipefail
cd "$(dirname "$0")"

# The dashboard test drives Debian's headless chromium through Playwright.
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  tmp="$(mktemp -d -p /var/tmp)"
  (TMPDIR="$tmp" apt-get update -qq && TMPDIR="$tmp" apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "warning: could not install chromium; the dashboard test will fail"
fi

# The ONNX conformance tests read Debian's ONNX backend test data.
if [ ! -d /usr/share/libonnx-testdata/data/node ]; then
  echo "installing libonnx-testdata (ONNX backend test data) ..." >&2
  TMPDIR=$(mktemp -d -p /var/tmp) apt-get install -y libonnx-testdata >&2 \
    || { apt-get update >&2 && TMPDIR=$(mktemp -d -p /var/tmp) apt-get install -y libonnx-testdata >&2; } \
    || echo "could not install libonnx-testdata; the ONNX conformance test will fail" >&2
fi

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

dotnet test Tessera.slnx -c Release --logger "trx" --results-directory "$results" "$@"
rc=$?

passed=0; failed=0; found=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  found=1
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
# A build or runner failure that produced no results must not read as green.
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
[ "$found" -eq 1 ] || echo "no test results were produced (build failure?)"
echo "$passed passed, $failed failed"
exit "$rc"
