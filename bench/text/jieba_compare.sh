#!/usr/bin/env bash
# Token-by-token agreement of `tessera segment` with jieba 0.42 (Debian python3-jieba) on the real corpus
# from make_corpus.sh (or FILE), in accurate mode with and without the HMM, full mode, search mode and POS tagging.
# MODES="hmm full" picks modes.
# usage: bench/text/jieba_compare.sh [FILE]        Needs /usr/bin/python3 with python3-jieba, the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus="${1:-bench/out/text/zh_man.txt}"
[ -n "${1:-}" ] || bench/text/make_corpus.sh >/dev/null
out=bench/out/text/compare; mkdir -p "$out"
D=$'\x01'   # a delimiter absent from the corpus keeps the comparison token-exact
export LC_ALL=C.UTF-8 PYTHONIOENCODING=utf-8
dotnet build -c Release src/Tessera.Cli -v q -nologo >/dev/null
tessera() { dotnet src/Tessera.Cli/bin/Release/net10.0/Tessera.Cli.dll "$@"; }
echo "corpus: $corpus ($(wc -c <"$corpus") bytes, $(wc -l <"$corpus") lines)"
for mode in ${MODES:-hmm nohmm full search pos}; do
  case $mode in
    hmm) flags=();; nohmm) flags=(-n);; full) flags=(-a);; search) flags=(--search);; pos) flags=(-p /);;
  esac
  /usr/bin/python3 bench/text/jieba_peer.py "$mode" "$D" "$corpus" > "$out/jieba.$mode.txt"
  tessera segment -d "$D" "${flags[@]}" "$corpus" > "$out/tessera.$mode.txt"
  printf '%-7s ' "$mode"
  /usr/bin/python3 bench/text/compare_lines.py "$out/jieba.$mode.txt" "$out/tessera.$mode.txt" "$D"
done
