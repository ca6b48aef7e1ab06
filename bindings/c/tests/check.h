/* The checks of the C ABI tests: each failed check is printed with its place and counted in
 * `failures`, and the test goes on (main returns the count). */
#ifndef DS_C_TEST_CHECK_H
#define DS_C_TEST_CHECK_H

#include <deepseek.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)
#define CHECK_OK(call)                                                                            \
  do {                                                                                            \
    ds_status s_ = (call);                                                                        \
    if (s_ != DS_OK) {                                                                            \
      fprintf(stderr, "%s:%d: %s gave %s: %s\n", __FILE__, __LINE__, #call, ds_status_string(s_), \
              ds_last_error());                                                                   \
      ++failures;                                                                                 \
    }                                                                                             \
  } while (0)
/* `call` fails with `code` and a message containing `needle`. */
#define CHECK_FAILS(call, code, needle)                                                           \
  do {                                                                                            \
    ds_status s_ = (call);                                                                        \
    if (s_ != (code) || strstr(ds_last_error(), (needle)) == NULL) {                              \
      fprintf(stderr, "%s:%d: %s gave %s '%s', wanted %s with '%s'\n", __FILE__, __LINE__, #call, \
              ds_status_string(s_), ds_last_error(), ds_status_string(code), (needle));           \
      ++failures;                                                                                 \
    }                                                                                             \
  } while (0)

#endif
