#!/usr/bin/env bash
# run_on_gpu.sh: everything vkdrop reports about a real GPU, in one run with a deadline, for a machine whose
# time is short: the device as vkdrop sees it, the test suite, the three benchmarks against PyTorch CUDA on
# the same GPU, and the two samples' training runs (the MLP's default, and the CNN for 15 epochs), and the
# matmul tilings the tuner chose there.
#
#   bench/run_on_gpu.sh BUILD_DIR LOG_DIR [SECONDS]
#
# BUILD_DIR is a configured and built tree (./vkdrop.sh build); each part writes LOG_DIR/<part>.txt and gets
# what is left of SECONDS (default 540), so a hang in one part cannot take the others' time. Set
# VKDROP_PYTHON to a python3 whose torch has CUDA, VKDROP_DATA_DIR to MNIST (raw or .gz), and the Vulkan
# driver as usual. The lavapipe lane-width variants of the tests are left out (other drivers ignore the
# width), and so is find_package_vkdrop, which needs the development packages.
set -uo pipefail

build=$(cd "${1:?usage: run_on_gpu.sh BUILD_DIR LOG_DIR [SECONDS]}" && pwd)
logs=${2:?usage: run_on_gpu.sh BUILD_DIR LOG_DIR [SECONDS]}
deadline=$((SECONDS + ${3:-540}))
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)

# part NAME BUDGET COMMAND...: runs COMMAND with at most BUDGET seconds, or what is left before the deadline.
part() {
  local name=$1 budget=$2
  shift 2
  local left=$((deadline - SECONDS - 5))
  ((budget > left)) && budget=$left
  if ((budget < 10)); then
    echo "== $name: skipped, no time left" | tee "$logs/$name.txt"
    return
  fi
  echo "== $name (at most ${budget} s): $*"
  local start=$SECONDS
  timeout -k 5 "$budget" "$@" >"$logs/$name.txt" 2>&1
  local status=$?
  echo "== $name: exit $status after $((SECONDS - start)) s"
}

part info 30 "$build/vkdrop-info"
part tests 150 ctest --test-dir "$build" -j 8 -E '@lanes|find_package_vkdrop' --output-on-failure
part bench_dropout 45 "$build/bench/bench_dropout"
part bench_gemm 90 "$build/bench/bench_gemm" --samples 3
part bench_train 90 "$build/bench/bench_train"
work=$(mktemp -d)
part train_cnn 200 "$build/samples/mnist_mlp" --model cnn --epochs 15 --metrics "$logs/train_cnn.jsonl" \
  --save "$work/cnn.safetensors"
part train_mlp 60 "$build/samples/mnist_mlp"

# The tilings the matmul tuner measured on this GPU for the benchmarks and the samples (ops/matmul_tuner.hpp).
cp "${VKDROP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vkdrop}"/matmul-tilings-*.json "$logs/" 2>/dev/null || true

# The short table: each part's last lines.
for f in "$logs"/*.txt; do
  echo "---- $(basename "$f")"
  case $(basename "$f") in
    tests.txt) grep -E 'tests passed|tests failed|\*\*\*|Failed|Timeout' "$f" | tail -20 ;;
    *) tail -n 12 "$f" ;;
  esac
done
