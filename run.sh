#!/usr/bin/env bash
# The main job: serve the bundled model repository (models/) over the Open Inference Protocol.
# HTTP (REST, dashboard at /, /metrics) on 8000, gRPC on 8001. Extra arguments go to `tessera serve`.
set -euo pipefail
cd "$(dirname "$0")"
exec ./tessera serve "$@"
