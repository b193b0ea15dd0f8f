#!/usr/bin/env bash
# gpu_run.sh: on a GPU machine that can build nothing (the device tool's), runs bench/run_on_gpu.sh from the bundle
# that bench/gpu_bundle.sh made on the build machine: the device as vkdrop sees it, the suite, the three benchmarks
# against PyTorch CUDA, both samples' training, and the tilings the matmul tuner chose.
#
#   bash bench/gpu_run.sh [SECONDS]        (default 480: what run_on_gpu.sh's parts may take together)
#
# From this machine, with the device tool: run `bash bench/gpu_run.sh 480` with carry ["gpu-bundle"] and a
# timeout_s of 570 (unpacking takes a few seconds). What comes back: the summary on stdout and
# $OUT/gpu-logs.tar.gz (every part's whole log); unpack it into bench/results/<device>-<date>/.
set -uo pipefail

root=$(pwd)
bundle=$root/gpu-bundle
seconds=${1:-480}
if [[ ! -f $bundle/bundle.tar.xz || ! -f $bundle/manifest.env ]]; then
  echo "gpu_run.sh: no gpu-bundle/ in $root: run bench/gpu_bundle.sh on the build machine, and carry gpu-bundle" >&2
  exit 2
fi
# shellcheck source=/dev/null
source "$bundle/manifest.env"
echo "bundle of $COMMIT, packed $PACKED; this tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"

# The Vulkan loader and GL dispatch libraries (the device tool's README: they can be missing there).
for deb in "$bundle"/debs/*.deb; do dpkg -x "$deb" / || exit 2; done
ldconfig
# The built tree, and the bundle's libraries, validation layer and data.
python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$bundle/bundle.tar.xz" "$root" ||
  exit 2
# The build names its programs and sources by absolute path: make its source root this tree.
if [[ $SOURCE_ROOT != "$root" ]]; then
  if [[ -e $SOURCE_ROOT && ! $SOURCE_ROOT -ef $root ]]; then
    echo "gpu_run.sh: the build's source root $SOURCE_ROOT is another tree here; run from it" >&2
    exit 2
  fi
  mkdir -p "$(dirname "$SOURCE_ROOT")"
  [[ -e $SOURCE_ROOT ]] || ln -s "$root" "$SOURCE_ROOT"
fi
# ctest's script tests call cmake and python3 by the build machine's paths.
for tool in cmake python3; do
  if [[ ! -e /usr/bin/$tool ]] && found=$(command -v "$tool"); then ln -s "$found" "/usr/bin/$tool"; fi
done

unpacked=$root/gpu-bundle/unpacked
python=$(command -v python3)
export LD_LIBRARY_PATH=$unpacked/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export VK_LAYER_PATH=$unpacked/layers
export VKDROP_DATA_DIR=$unpacked/mnist
# The PyTorch peers run in the machine's own environment, without the bundle's libraries.
printf '#!/bin/sh\nunset LD_LIBRARY_PATH\nexec "%s" "$@"\n' "$python" >"$unpacked/python3"
chmod +x "$unpacked/python3"
export VKDROP_PYTHON=$unpacked/python3
# NVIDIA's Vulkan driver where the loader does not look (the device tool's README).
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [[ -z ${VK_DRIVER_FILES:-} && -f $nvidia_icd ]] &&
   ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=$nvidia_icd
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi

out=${OUT:-$root/gpu-out}
mkdir -p "$out"
logs=$(mktemp -d)/gpu-logs
bash "$root/bench/run_on_gpu.sh" "$root/build" "$logs" "$seconds"
status=$?
tar -C "$(dirname "$logs")" -czf "$out/gpu-logs.tar.gz" gpu-logs
echo "logs: $out/gpu-logs.tar.gz"
exit $status
