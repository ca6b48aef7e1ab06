// Loads a checkpoint through the installed C++ API and prints its version and vocabulary.
#include <cstdio>

#include "deepseek/deepseek.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto model = deepseek::Model::Load(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  std::printf("deepseek %s: vocab %lld\n", DS_VERSION_STRING, static_cast<long long>(model.value()->config().vocab_size));
  return 0;
}
