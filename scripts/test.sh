#!/usr/bin/env bash
# Runs every test suite of simloss from a clean clone: the Swift core
# (swift test), the C API (ctest: C tests, the example, a benchmark smoke
# run, the library's exports), and the Python binding (pytest against the
# package pip installs). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

echo "== swift test"
swift test

echo "== cmake + ctest"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build
(cd build && ctest --output-on-failure)

echo "== pip install . + pytest"
python3 -m pip install --quiet --disable-pip-version-check .
python3 -m pytest -q Tests/python
