#!/usr/bin/env bash
# Installs what a fresh machine of this project's kind lacks, and nothing it
# has: cmake and ninja (PyPI), libpng for the example and valgrind for a
# ctest (Debian), and the Python packages the tests compare against (PyPI).
# Safe to run again.
set -euo pipefail

need_pip=()
command -v cmake >/dev/null 2>&1 && cmake --version >/dev/null 2>&1 || need_pip+=(cmake)
command -v ninja >/dev/null 2>&1 || need_pip+=(ninja)
for module in pytest:pytest numpy:numpy scipy:scipy skimage:scikit-image hypothesis:hypothesis \
              PIL:pillow scikit_build_core:scikit-build-core \
              jax:jax "optax:optax>=0.2.5" dm_pix:dm-pix; do
  python3 -c "import ${module%%:*}" >/dev/null 2>&1 || need_pip+=("${module#*:}")
done
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "bootstrap: pip install ${need_pip[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${need_pip[@]}"
  hash -r
fi

need_apt=()
dpkg -s libpng-dev >/dev/null 2>&1 || need_apt+=(libpng-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v valgrind >/dev/null 2>&1 || need_apt+=(valgrind)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
