#!/usr/bin/env bash
# The main job on the sample data that ships in the repo: builds libsimloss
# and the C example, then compares examples/data/distorted.png with
# examples/data/reference.png (L1, MSE, PSNR, TV and a gradient).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target compare_images
./build/examples/compare_images examples/data/reference.png examples/data/distorted.png
