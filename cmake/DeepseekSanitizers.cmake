# DS_SANITIZE=address;undefined wires the sanitizers into every target of the build.
if(DS_SANITIZE)
  string(REPLACE ";" "," _ds_san "${DS_SANITIZE}")
  add_compile_options(-fsanitize=${_ds_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_ds_san})
endif()
