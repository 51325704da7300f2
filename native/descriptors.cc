// Owned descriptors: dup(2) as fcntl(2) F_DUPFD_CLOEXEC, close(2).
// The copy is close-on-exec from birth (no window for a concurrent fork/exec to inherit it);
// lib/descriptor.ts owns it and closes it once.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

Napi::Value Dup(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw ErrnoError(info.Env(), errno, "dup");
  return Napi::Number::New(info.Env(), copy);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  // Never retried on EINTR: on Linux the descriptor is already gone by then, and a retry
  // could close a number another thread has just been given.
  if (close(fd) != 0 && errno != EINTR) throw ErrnoError(info.Env(), errno, "close");
  return info.Env().Undefined();
}

}  // namespace

void InitDescriptors(Napi::Env env, Napi::Object exports) {
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
}

}  // namespace sockctl
