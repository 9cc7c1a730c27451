#!/usr/bin/env bash
# The main job. Until the model server lands, it runs the seeds' Gorgonia example on Tessera's graph engine.
set -euo pipefail
cd "$(dirname "$0")"
dotnet run -c Release --project samples/GorgoniaExample "$@"
