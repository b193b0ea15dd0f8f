# ctest driver: PyTorch loads the sample's checkpoints into the matching nn.Sequential (strict names and
# shapes) and measures the same MNIST test error as vkdrop did. Where python3-torch is not installed it
# prints "skipped: ..." and ctest reports the test as skipped (SKIP_REGULAR_EXPRESSION). Arguments: -DSAMPLE=<mnist_mlp> -DPYTHON=<python3> -DSCRIPT=<.py>
# -DWORK_DIR=<scratch>. MNIST is where the sample finds it: $VKDROP_DATA_DIR (`./vkdrop.sh test` sets it).
set(DATA_DIR "$ENV{VKDROP_DATA_DIR}")
if(DATA_DIR STREQUAL "")
  set(DATA_DIR "$ENV{HOME}/.cache/vkdrop/mnist")
endif()
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
execute_process(COMMAND ${PYTHON} -c "import torch, numpy" RESULT_VARIABLE has_torch OUTPUT_QUIET ERROR_QUIET)
if(NOT has_torch EQUAL 0)
  message("skipped: ${PYTHON} cannot import torch and numpy (apt-get install python3-torch)")
  return()
endif()

# One architecture: train briefly, save, evaluate in PyTorch, compare the two test errors.
function(check name)
  set(checkpoint ${WORK_DIR}/${name}.safetensors)
  execute_process(COMMAND ${SAMPLE} ${ARGN} --save ${checkpoint} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "test error: ([0-9]+\\.[0-9][0-9])%\n$")
    message(FATAL_ERROR "${name}: the sample failed (${rc}):\n${out}${err}")
  endif()
  set(ours ${CMAKE_MATCH_1})
  execute_process(COMMAND ${PYTHON} ${SCRIPT} ${checkpoint} ${DATA_DIR} ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE theirs_out ERROR_VARIABLE theirs_err)
  if(NOT rc EQUAL 0 OR NOT theirs_out MATCHES "test error: ([0-9]+\\.[0-9][0-9])%")
    message(FATAL_ERROR "${name}: PyTorch could not load or evaluate ${checkpoint} (${rc}):\n${theirs_out}${theirs_err}")
  endif()
  set(theirs ${CMAKE_MATCH_1})
  # Float sums in another order may flip an image whose two best classes are within rounding: allow two of
  # the 10,000 (0.02 %).
  string(REPLACE "." "" a "${ours}")
  string(REPLACE "." "" b "${theirs}")
  math(EXPR diff "${a} - ${b}")
  if(diff GREATER 2 OR diff LESS -2)
    message(FATAL_ERROR "${name}: vkdrop measured ${ours}%, PyTorch ${theirs}% on the same weights")
  endif()
  message("${name}: vkdrop ${ours}%, ${theirs_out}")
endfunction()

check(mlp --train-subset 2000 --hidden 64 --batch 100 --epochs 1 --seed 3)
check(cnn --model cnn --channels 4,8 --hidden 32 --train-subset 1000 --batch 50 --epochs 1 --seed 3)
