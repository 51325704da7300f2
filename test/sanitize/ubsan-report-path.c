// test/sanitize/run.sh: preloaded after gcc's sanitizer runtimes: points libubsan's own report path (gcc 12's
// libubsan, loaded next to libasan, ignores UBSAN_OPTIONS' log_path and writes to stderr)
// at UBSAN_REPORT_PATH, so that a report from any process, child or not, leaves a file.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
__attribute__((constructor)) static void ubsan_report_path(void) {
  const char* path = getenv("UBSAN_REPORT_PATH");
  void* ubsan = dlopen("libubsan.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (path == NULL || ubsan == NULL) return;
  void (*set)(const char*) = (void (*)(const char*))dlsym(ubsan, "__sanitizer_set_report_path");
  if (set != NULL) set(path);
}
