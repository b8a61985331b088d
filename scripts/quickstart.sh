#!/usr/bin/env bash
# README command (1): installs what is missing, builds rouse, and serves
# examples/quickstart.yaml with its LMDB store in ./.rouse/quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DROUSE_BUILD_TESTS=OFF -DROUSE_BUILD_BENCH=OFF -DROUSE_BUILD_EXAMPLES=OFF
cmake --build build --target rouse -j"$(nproc)"
exec ./build/runtime/daemon/rouse serve -c examples/quickstart.yaml
