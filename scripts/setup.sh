#!/usr/bin/env bash
# All of selfsynth's set-up on a fresh Debian/Ubuntu machine, idempotent:
#   1. libtorch (Debian's libtorch-dev) unless LIBTORCH or LIBTORCH_USE_PYTORCH=1 points elsewhere,
#      and OpenBLAS as the BLAS behind it;
#   2. npm install (from the lock), which builds the engine addon (native/) against it, or only
#      the addon when a file of native/src (or binding.gyp) is newer than the built one;
#   3. the TypeScript build (dist/), which the `selfsynth` bin runs;
#   4. Debian's chromium, the browser the report tests drive (test/report/browser.ts) through
#      playwright-core, which downloads no browser of its own.
# Pass --bench to also install Debian's python3-torch, the PyTorch reference of bench/.
set -euo pipefail
cd "$(dirname "$0")/.."

want_bench=0
[ "${1:-}" = "--bench" ] && want_bench=1

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=()
if [ -z "${LIBTORCH:-}" ] && [ "${LIBTORCH_USE_PYTORCH:-}" != "1" ] && ! dpkg -s libtorch-dev >/dev/null 2>&1; then
  packages+=(libtorch-dev)
fi
# libtorch links the generic libblas.so.3; without OpenBLAS behind it, Debian falls back to the
# reference BLAS, about 50x slower at matrix products (`npm run bench -- gemm`).
if ! ls /usr/lib/*/openblas*/libblas.so.3 >/dev/null 2>&1; then packages+=(libopenblas0-openmp); fi
command -v g++ >/dev/null 2>&1 || packages+=(g++)
command -v make >/dev/null 2>&1 || packages+=(make)
# The report's browser tests (npm test) open pages in headless Chromium.
if [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then packages+=(chromium); fi
if [ "$want_bench" = 1 ] && ! dpkg -s python3-torch >/dev/null 2>&1; then packages+=(python3-torch); fi
if [ "${#packages[@]}" -gt 0 ]; then
  echo "setup: installing ${packages[*]} with apt-get"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# node-gyp builds against the running Node's headers; Debian-style Node installs keep them in /usr.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ] && [ "$(dirname "$(dirname "$(command -v node)")")" = /usr ]; then
  export npm_config_nodedir=/usr
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -f native/build/Release/selfsynth_engine.node ]; then
  echo "setup: npm install (builds the engine addon, about 2 minutes)"
  # `npm install` rather than `npm ci`: registry mirrors that hold only this platform's builds of
  # packages with per-platform optional dependencies (biome, sharp) leave the lock without the
  # other platforms' entries, and `npm ci` refuses such a lock. The lock still pins versions.
  npm install --no-audit --no-fund --loglevel=error
elif [ -n "$(find native/src native/binding.gyp -newer native/build/Release/selfsynth_engine.node -print -quit)" ]; then
  # The engine's sources changed since the addon was built (a pull that adds or changes an op):
  # rebuild it alone, or the TypeScript would call ops the old addon lacks.
  echo "setup: native/ is newer than the engine addon: rebuilding it (about 2 minutes)"
  npm run --silent rebuild-engine
fi
npm run --silent build
echo "setup: done (libtorch $(node native/find-libtorch.cjs libdir))"
