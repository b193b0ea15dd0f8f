#!/usr/bin/env bash
# gpu_run.sh: on a GPU machine that can build nothing (the device tool's), runs bench/run_on_gpu.sh from the bundle
# that bench/gpu_bundle.sh made on the build machine: the device as vkdrop sees it, the suite, the three benchmarks
# against PyTorch CUDA, both samples' training, and the tilings the matmul tuner chose.
#
#   bash bench/gpu_run.sh [SECONDS]        (default 480: what run_on_gpu.sh's parts may take together)
#
# From this machine, with the device tool: run `bash bench/gpu_run.sh 480` with carry ["gpu-bundle"] and a
# timeout_s of 570 (unpacking takes a few seconds). What comes back: the summary on stdout and
# $OUT/gpu-logs.tar.gz (every part's whole log); unpack it into bench/results/<device>-<date>/. It stops before the
# parts when vkdrop selects no GPU (GPU_RUN_ANY_DEVICE=1 lets it run on lavapipe, to try the script).
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
# The built tree, and the bundle's libraries, validation layer and data ('data': refuse links and absolute paths).
python3 -c '
import sys, tarfile
with tarfile.open(sys.argv[1]) as tar:
    tar.extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
' "$bundle/bundle.tar.xz" "$root" || exit 2
# The build names its programs and sources by absolute path: make its source root this tree.
if [[ $SOURCE_ROOT != "$root" ]]; then
  if [[ -e $SOURCE_ROOT && ! $SOURCE_ROOT -ef $root ]]; then
    echo "gpu_run.sh: the build's source root $SOURCE_ROOT is another tree here; run from it" >&2
    exit 2
  fi
  if [[ ! -e $SOURCE_ROOT ]] && ! { mkdir -p "$(dirname "$SOURCE_ROOT")" && ln -s "$root" "$SOURCE_ROOT"; }; then
    echo "gpu_run.sh: cannot link $SOURCE_ROOT to this tree; run from a copy at $SOURCE_ROOT" >&2
    exit 2
  fi
fi

unpacked=$root/gpu-bundle/unpacked
# The python3 that has PyTorch: the first on PATH (there, the one that holds it), else Debian's.
python=
for candidate in "$(command -v python3)" /usr/bin/python3; do
  if [[ -x $candidate ]] && "$candidate" -c 'import torch' 2>/dev/null; then python=$candidate; break; fi
done
[[ -n $python ]] || python=$(command -v python3) || { echo "gpu_run.sh: no python3 here" >&2; exit 2; }
cmake=$(command -v cmake) || { echo "gpu_run.sh: no cmake here (ctest comes with it)" >&2; exit 2; }
machine_library_path=${LD_LIBRARY_PATH-}
export LD_LIBRARY_PATH=$unpacked/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export VK_LAYER_PATH=$unpacked/layers
export VKDROP_DATA_DIR=$unpacked/mnist
# PyTorch (the peers, and the test that loads the sample's checkpoints) runs in the machine's own environment: its
# python3 (a script, not a link: a virtual environment knows itself by the path it was started from), without the
# bundle's libraries.
if [[ -n $machine_library_path ]]; then
  printf '#!/bin/sh\nexport LD_LIBRARY_PATH=%q\nexec %q "$@"\n' "$machine_library_path" "$python" >"$unpacked/python3"
else
  printf '#!/bin/sh\nunset LD_LIBRARY_PATH\nexec %q "$@"\n' "$python" >"$unpacked/python3"
fi
chmod +x "$unpacked/python3"
export VKDROP_PYTHON=$unpacked/python3
# ctest's script tests name the build machine's cmake and python3; and a hung test is stopped after 120 s, so that
# the suite's summary still comes out within its part's time.
find "$root/build" -name CTestTestfile.cmake -exec sed -i -e "s#\"/usr/bin/cmake\"#\"$cmake\"#g" \
  -e "s#-DPYTHON=[^\"]*#-DPYTHON=$VKDROP_PYTHON#g" -e 's#TIMEOUT "[0-9]*"#TIMEOUT "120"#g' {} +
# NVIDIA's Vulkan driver where the loader does not look (the device tool's README).
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [[ -z ${VK_DRIVER_FILES:-} && -f $nvidia_icd ]] &&
   ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=$nvidia_icd
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi

# Before the parts' minutes: the GPU is the device vkdrop picks, PyTorch sees CUDA, ctest sees the tests.
preflight() {
  local info
  info=$("$root/build/vkdrop-info" 2>&1) || { echo "$info"; echo "gpu_run.sh: vkdrop-info failed (above)" >&2; return 1; }
  echo "$info" | grep -q "<- selected" && ! echo "$info" | grep -A1 "<- selected" | grep -qi "type *cpu" ||
    { echo "$info"; echo "gpu_run.sh: vkdrop selects no GPU (above)" >&2; return 1; }
  "$VKDROP_PYTHON" -c 'import torch; assert torch.cuda.is_available(), "CUDA unavailable"' ||
    echo "gpu_run.sh: PyTorch with CUDA is not there: the benchmarks run without their CUDA peer" >&2
  ctest --test-dir "$root/build" -N | tail -1
}
if [[ ${GPU_RUN_ANY_DEVICE:-0} != 1 ]]; then preflight || exit 2; fi

out=${OUT:-$root/gpu-out}
mkdir -p "$out"
logs=$(mktemp -d)/gpu-logs
bash "$root/bench/run_on_gpu.sh" "$root/build" "$logs" "$seconds"
status=$?
tar -C "$(dirname "$logs")" -czf "$out/gpu-logs.tar.gz" gpu-logs
echo "logs: $out/gpu-logs.tar.gz"
exit $status
