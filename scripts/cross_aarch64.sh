#!/usr/bin/env bash
# cross_aarch64.sh: builds emo for ARM64 (aarch64) with Debian's cross compiler and runs the
# kernel and parity tests under qemu-user emulation, so ARM users get a tested build from an
# x86-64 machine. Usage: scripts/cross_aarch64.sh [BUILD_DIR]   (default build-arm64)
#
# What it installs (only what is missing): gcc-aarch64-linux-gnu, qemu-user and the arm64
# (multiarch) -dev packages of emo's dependencies. XNNPACK's and pthreadpool's -dev packages
# are not Multi-Arch: installing the arm64 ones would remove the amd64 ones, so those two are
# downloaded (apt-get download) and unpacked into BUILD_DIR/arm64-extra instead.
# The tests it runs are those of CROSS_TESTS below: the engine's kernels (reference and
# XNNPACK, int8 plan choice, dense layers, optical flow), the model readers, audio features and
# VAD, and the parity of the real networks against their TF.js/ONNX fixtures. Left to the native
# build: the whole-pipeline tests (FFmpeg decoding under emulation takes minutes per clip) and
# test_winograd / test_nn_ops, whose multi-threaded sweeps take over 10 minutes under qemu (the
# Winograd and op kernels they check are portable C, tested by the native build; on ARM they are
# compiled, not run, here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-arm64}
case $build in /*) ;; *) build=$PWD/$build ;; esac
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

dpkg --print-foreign-architectures | grep -qx arm64 || { $sudo dpkg --add-architecture arm64 && $sudo apt-get update -qq; }
want=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
for p in libcjson-dev libpng-dev libjpeg62-turbo-dev libwebp-dev libssl-dev libavformat-dev \
         libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libavdevice-dev \
         libopenblas-dev libzip-dev libcpuinfo0; do
  want+=("$p:arm64")
done
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "cross_aarch64: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
extra=$build/arm64-extra
if [ ! -e "$extra/usr/lib/aarch64-linux-gnu/libXNNPACK.so" ]; then
  mkdir -p "$build/debs" "$extra"
  (cd "$build/debs" && apt-get download -qq libxnnpack-dev:arm64 libxnnpack0:arm64 \
    libpthreadpool-dev:arm64 libpthreadpool0:arm64)
  for d in "$build"/debs/*.deb; do dpkg -x "$d" "$extra"; done
fi

cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" \
  -DEMO_ARM64_EXTRA="$extra" -DCMAKE_BUILD_TYPE=Release -DEMO_WERROR=ON -DEMO_BENCH=OFF >/dev/null
CROSS_TESTS=(test_bytes test_half test_zip test_dense test_qconv test_optical_flow test_tflite
             test_safetensors test_onnx test_tfjs test_parity test_features test_vad)
cmake --build "$build" -j"$(nproc)" --target emo_cli "${CROSS_TESTS[@]}"
file "$build/emo" | grep -q "ARM aarch64" || { echo "cross_aarch64: $build/emo is not an ARM64 binary" >&2; exit 1; }
regex="^($(IFS='|'; echo "${CROSS_TESTS[*]}"))\$"
cd "$build" && ctest -R "$regex" -j"$(nproc)" --output-on-failure
