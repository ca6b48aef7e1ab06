# Compares LIBRARY's ABI with the committed BASELINE (see bindings/c/abi/update-baseline.sh).
# abidiff's exit status is a bit field: 1 tool error, 2 usage error, 4 ABI changed, 8
# incompatible change. Only 8 is certain to be a break, but a changed struct layout or
# signature is reported as 4 alone, so every nonzero status fails; additions are left out of
# the comparison (--no-added-syms) because they are compatible. The baseline holds only the
# public types already (abidw --headers-dir), so no header filter is applied here: the
# baseline is written without source locations, which such a filter would need.
execute_process(COMMAND ${ABIDIFF} --no-added-syms ${BASELINE} ${LIBRARY}
                OUTPUT_VARIABLE report ERROR_VARIABLE report RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "abidiff exit ${rc} (1/2: tool error, 4: ABI changed, 8: incompatible): the C ABI "
                      "differs from ${BASELINE}\n${report}")
endif()
message(STATUS "ABI compatible with ${BASELINE}")
