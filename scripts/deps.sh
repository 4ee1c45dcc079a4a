#!/usr/bin/env bash
# deps.sh: installs the Debian 12 packages emo needs to build, test, fuzz and fetch models,
# but only those that are missing (so a second run is instant and needs no network).
# Usage: scripts/deps.sh [build|test]   (test adds clang, clang-format, sanitizer/fuzzer runtimes)
set -euo pipefail
want=(build-essential cmake pkg-config ca-certificates
      libxnnpack-dev libpthreadpool-dev libcjson-dev libpng-dev libjpeg62-turbo-dev libwebp-dev libssl-dev
      libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libavdevice-dev
      libopenblas-dev libzip-dev)
if [ "${1:-build}" = test ]; then
  # numpy, pandas: the Python package's tests; slurm-wlm, munge: tests/batch_slurm.sh;
  # chromium: the HTML report's browser test
  want+=(clang clang-format libclang-rt-14-dev python3 python3-numpy python3-pandas slurm-wlm munge
         chromium)
fi
command -v npm >/dev/null 2>&1 || want+=(npm)
command -v tar >/dev/null 2>&1 || want+=(tar)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
