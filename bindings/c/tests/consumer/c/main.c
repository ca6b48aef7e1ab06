/* Loads a checkpoint through the installed C ABI: prints the versions and the vocabulary. */
#include <deepseek.h>
#include <stdio.h>

int main(int argc, char **argv) {
  ds_model *model = NULL;
  ds_model_config config;
  ds_status status;
  if (argc != 2) return 2;
  if ((status = ds_model_load(argv[1], NULL, &model)) != DS_OK) {
    fprintf(stderr, "%s: %s\n", ds_status_string(status), ds_last_error());
    return 1;
  }
  config.struct_size = sizeof config;
  status = ds_model_get_config(model, &config);
  printf("deepseek %s (ABI %u): vocab %lld\n", ds_version_string(), (unsigned)ds_abi_version(),
         (long long)config.vocab_size);
  ds_model_destroy(model);
  return status == DS_OK ? 0 : 1;
}
