#!/usr/bin/env bash
# The study Dropout2d exists for: the sample's CNN with the same budget and seeds, three ways after each conv
# block: no dropout, per-element Dropout, per-channel Dropout2d (--conv-dropout none|element|channel).
# Every run saves a checkpoint after each epoch, so rerunning the same command after an interruption resumes
# each run where it stopped (bit-identically) and skips the finished ones. Prints a markdown table of the
# last epoch of every run (test error and test loss), with the mean over the seeds.
#
# usage: samples/mnist_mlp/conv_dropout_study.sh OUT_DIR [SEEDS [TRAIN_SUBSET [EPOCHS [-- MORE SAMPLE FLAGS]]]]
#   defaults: seeds "1 2", the first 10000 training images, 5 epochs; the binary is $MNIST_MLP
#   (default build/samples/mnist_mlp, built by ./vkdrop.sh build).
set -euo pipefail

out=${1:?usage: $0 OUT_DIR [SEEDS [TRAIN_SUBSET [EPOCHS [-- FLAGS]]]]}
seeds=${2:-1 2}
subset=${3:-10000}
epochs=${4:-5}
shift $(($# < 4 ? $# : 4))
[[ ${1:-} == -- ]] && shift
extra=("$@")
binary=${MNIST_MLP:-build/samples/mnist_mlp}
[[ -x $binary ]] || { echo "$0: no executable $binary: run ./vkdrop.sh build first" >&2; exit 1; }
mkdir -p "$out"

# Seeds outermost: an interrupted study has every mode of the first seeds.
for seed in $seeds; do
  for mode in none element channel; do
    run="$out/$mode-seed$seed"
    checkpoint="$run.safetensors"
    resume=()
    [[ -f $checkpoint ]] && resume=(--resume "$checkpoint")
    echo "== conv dropout $mode, seed $seed -> $run.log" >&2
    "$binary" --model cnn --conv-dropout "$mode" --seed "$seed" --train-subset "$subset" --epochs "$epochs" \
      --save "$checkpoint" --metrics "$run.jsonl" "${resume[@]}" "${extra[@]}" >>"$run.log" 2>&1
  done
done

# The table: each run's last metrics line for epoch EPOCHS (a run resumed after a kill may repeat an epoch).
python3 - "$out" "$epochs" "$seeds" <<'EOF'
import json, statistics, sys
out, epochs, seeds = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
print(f"| after the conv blocks | seed | test error | test loss | train error |")
print("|---|---:|---:|---:|---:|")
names = {"none": "nothing", "element": "Dropout (per element)", "channel": "Dropout2d (per channel)"}
for mode in ["none", "element", "channel"]:
    errors, losses = [], []
    for seed in seeds:
        rows = [json.loads(line) for line in open(f"{out}/{mode}-seed{seed}.jsonl") if line.strip()]
        last = [r for r in rows if r["epoch"] == epochs][-1]
        errors.append(100 * last["test_error"]); losses.append(last["test_loss"])
        print(f"| {names[mode]} | {seed} | {errors[-1]:.2f} % | {losses[-1]:.4f} | {100 * last['train_error']:.2f} % |")
    print(f"| **{names[mode]}** | mean | **{statistics.mean(errors):.2f} %** | **{statistics.mean(losses):.4f}** | |")
EOF
