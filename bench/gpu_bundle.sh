#!/usr/bin/env bash
# gpu_bundle.sh: packs what bench/gpu_run.sh needs on a GPU machine that can build nothing and fetch nothing (the
# device tool's machine: no Vulkan SDK, no glslc, no fmt, no network), so that one short call there runs the suite,
# the benchmarks and the samples.
#
#   bench/gpu_bundle.sh [BUILD_DIR]        (default: build)
#
# Run it here, in the repository's root, after ./vkdrop.sh build (and ./vkdrop.sh data); it brings the build up to
# date first, so that the bundle holds the programs of the tree it names. It writes gpu-bundle/ (gpu_run.sh reads it
# there):
#   bundle.tar.xz  the built tree's programs and ctest files (paths relative to the source root), and under
#                  gpu-bundle/unpacked/: lib/ (libfmt, OpenBLAS and its Fortran runtime, which Debian built them
#                  against), layers/ (the Khronos validation layer: the tests run with it), mnist/ (the data)
#   debs/          the Vulkan loader and GL dispatch packages the device tool's README names for that machine
#   manifest.env   the commit, and the source root the build's absolute paths point into
# gitignored; it travels with `carry: ["gpu-bundle"]` (under the tool's 64 MiB: about 25 MiB).
set -euo pipefail

build=${1:-build}
out=gpu-bundle
root=$(pwd)
[[ -f "$root/bench/gpu_run.sh" ]] || { echo "gpu_bundle.sh: run it from the repository's root" >&2; exit 2; }
[[ -f "$build/CMakeCache.txt" ]] || { echo "gpu_bundle.sh: $build is not a configured build (./vkdrop.sh build)" >&2; exit 2; }
build=$(cd "$build" && pwd)
source_root=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
[[ "$build" == "$source_root/build" ]] || {
  echo "gpu_bundle.sh: the build must be <source root>/build (it is $build, the source root $source_root)" >&2
  exit 2
}
echo "bringing $build up to date ..."
cmake --build "$build" -j"$(nproc)" >/dev/null || { echo "gpu_bundle.sh: the build failed (cmake --build $build)" >&2; exit 2; }
programs=("$build/vkdrop-info" "$build/samples/mnist_mlp" "$build"/bench/bench_* "$build"/tests/test_*
          "$build/tests/lane_width_fingerprint" "$build"/tests/fuzz/fuzz_replay_*)
for p in "${programs[@]}"; do
  [[ -x "$p" ]] || { echo "gpu_bundle.sh: $p is missing: build everything first (./vkdrop.sh build)" >&2; exit 2; }
done
data=${VKDROP_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vkdrop/mnist}
ls "$data"/train-images-idx3-ubyte* >/dev/null 2>&1 || {
  echo "gpu_bundle.sh: no MNIST in $data (./vkdrop.sh data, or set VKDROP_DATA_DIR)" >&2
  exit 2
}
layer=/usr/lib/x86_64-linux-gnu/libVkLayer_khronos_validation.so
[[ -f $layer ]] || { echo "gpu_bundle.sh: no validation layer (apt-get install vulkan-validationlayers)" >&2; exit 2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
unpacked=$stage/gpu-bundle/unpacked
mkdir -p "$unpacked/lib" "$unpacked/layers" "$unpacked/mnist" "$stage/build"

# The programs, and every ctest file (they name the programs and the sources by absolute path).
(cd "$build" && find . -name CTestTestfile.cmake -print0 | xargs -0 cp --parents -t "$stage/build")
(cd "$build" && for p in "${programs[@]}"; do cp --parents "${p#"$build"/}" "$stage/build"; done)

# The libraries the programs need beyond the C and C++ runtimes and the Vulkan loader (which the machine has, or
# gets from debs/). Not libstdc++: PyTorch there runs in the same environment and may need a newer one.
ldd "${programs[@]}" 2>/dev/null | awk '$2 == "=>" {print $3}' | sort -u | while read -r lib; do
  case $(basename "$lib") in
    libc.so*|libm.so*|libstdc++.so*|libgcc_s.so*|libz.so*|libvulkan.so*|libpthread.so*|libdl.so*|librt.so*) ;;
    *) cp -L "$lib" "$unpacked/lib/" ;;
  esac
done
# The validation layer, its manifest pointing at the copy beside it.
cp "$layer" "$unpacked/layers/"
sed 's#"library_path": *"[^"]*"#"library_path": "./libVkLayer_khronos_validation.so"#' \
  /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json >"$unpacked/layers/VkLayer_khronos_validation.json"
cp "$data"/*-ubyte* "$unpacked/mnist/"

rm -rf "$out"
mkdir -p "$out/debs"
(cd "$out/debs" && apt-get download -q -o APT::Sandbox::User=root libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 \
  libglx0 libgles2 >/dev/null) || { echo "gpu_bundle.sh: apt-get download failed (apt-get update?)" >&2; exit 2; }
echo "packing (xz, about two minutes) ..."
tar -C "$stage" -cf - build gpu-bundle | xz -T0 -6 --lzma2=dict=128MiB >"$out/bundle.tar.xz"
{
  printf 'SOURCE_ROOT=%q\n' "$source_root"
  printf 'COMMIT=%q\n' "$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo -dirty)"
  printf 'PACKED=%q\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
} >"$out/manifest.env"
echo "$out: $(du -sh "$out" | cut -f1) ($(cat "$out/manifest.env" | tr '\n' ' '))"
echo "on the device machine: bash bench/gpu_run.sh [SECONDS], with gpu-bundle carried"
