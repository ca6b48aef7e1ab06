# ds_set_warnings(target): the project's warning flags, optionally as errors.
function(ds_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  # GCC 12 reports false -Wrestrict errors inside libstdc++ for "literal" + std::string at -O2
  # and above (GCC bug 105651), which -Werror would turn into build failures.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(DS_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
