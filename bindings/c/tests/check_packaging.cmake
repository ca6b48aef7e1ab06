# Installs BUILD_DIR into WORK_DIR/prefix, then configures, builds and runs the consumers in
# SOURCE_DIR against it (C and C++ through find_package, C through pkg-config), each loading
# the checkpoint TINY.
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    list(JOIN ARGV " " cmd)
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}")
  endif()
  message(STATUS "${out}")
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(lang c cxx)
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/${lang} -B ${WORK_DIR}/${lang} -G ${GENERATOR}
      -DCMAKE_C_COMPILER=${CC} -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/${lang})
  run(${WORK_DIR}/${lang}/${lang}_consumer ${TINY})
endforeach()

# pkg-config, as a Makefile-based C project would use it.
find_program(PKG_CONFIG pkg-config REQUIRED)
file(GLOB pcdir ${prefix}/lib*/pkgconfig ${prefix}/lib/*/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "${pcdir}")
execute_process(COMMAND ${PKG_CONFIG} --cflags --libs deepseek OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs deepseek failed (PKG_CONFIG_PATH=${pcdir})")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${CC} -std=c99 -pedantic -Wall -Werror ${SOURCE_DIR}/c/main.c ${flags} -o ${WORK_DIR}/pc_consumer)
string(REGEX MATCH "-L[^ ;]+" libdir "${flags}")
string(SUBSTRING "${libdir}" 2 -1 libdir)
set(ENV{LD_LIBRARY_PATH} "${libdir}")
run(${WORK_DIR}/pc_consumer ${TINY})
