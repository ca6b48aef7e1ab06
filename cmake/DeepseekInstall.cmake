# cmake --install: the C++ API (include/deepseek/*.h + libdeepseek.a and the static libraries
# it is made of), the C ABI (include/deepseek.h + libdeepseek_c.so), a CMake package
# (find_package(deepseek) -> deepseek::deepseek, deepseek::deepseek_c) and a pkg-config file.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The static C++ library links its layers statically, so a consumer needs every one of them;
# they are installed and exported as deepseek::deepseek_<layer> (use only deepseek::deepseek).
set(_ds_static_layers deepseek deepseek_core deepseek_format deepseek_backend deepseek_backend_cpu
    deepseek_backend_interface
    deepseek_ops deepseek_model deepseek_sampling deepseek_tokenizer deepseek_chat deepseek_image)
foreach(_t IN LISTS _ds_static_layers)
  target_include_directories(${_t} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()
install(TARGETS ${_ds_static_layers} deepseek_c EXPORT deepseekTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/deepseek/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/deepseek FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/deepseek/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/deepseek)
install(FILES bindings/c/include/deepseek.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(_ds_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/deepseek)
install(EXPORT deepseekTargets NAMESPACE deepseek:: DESTINATION ${_ds_cmake_dir})
configure_package_config_file(cmake/deepseekConfig.cmake.in ${PROJECT_BINARY_DIR}/deepseekConfig.cmake
  INSTALL_DESTINATION ${_ds_cmake_dir})
# Before 1.0 every minor release may change the C++ API; the C ABI has its own SOVERSION.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/deepseekConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/deepseekConfig.cmake ${PROJECT_BINARY_DIR}/deepseekConfigVersion.cmake
  cmake/FindxxHash.cmake cmake/Findutf8proc.cmake DESTINATION ${_ds_cmake_dir})

# The .pc file finds its prefix from its own location, so `cmake --install --prefix` anywhere works.
file(RELATIVE_PATH DS_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
configure_file(bindings/c/deepseek.pc.in ${PROJECT_BINARY_DIR}/deepseek.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/deepseek.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
