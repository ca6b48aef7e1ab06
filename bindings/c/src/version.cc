// The library's version and ABI version, as compiled (the header's macros may be newer or older
// in the calling program).
#include "internal.h"

// deepseek.h repeats the release numbers that CMake writes into deepseek/version.h. Both are
// included here (through internal.h), so a mismatch is a macro-redefinition diagnostic; the
// configure step checks it too, with a clearer message.

extern "C" {

uint32_t ds_version(void) DS_NOEXCEPT { return DS_VERSION_NUMBER; }
const char* ds_version_string(void) DS_NOEXCEPT { return DS_VERSION_STRING; }
uint32_t ds_abi_version(void) DS_NOEXCEPT { return DS_ABI_VERSION; }

}  // extern "C"
