// Owned descriptors: dup(2) as fcntl(2) F_DUPFD_CLOEXEC, close(2), and the environment's
// registry of what JavaScript owns (environment.h, rule 2).
// The copy is close-on-exec from birth (no window for a concurrent fork/exec to inherit it);
// lib/core/descriptor.ts owns it and closes it once, or the environment's end does.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "environment.h"
#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

Napi::Value Dup(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw ErrnoError(info.Env(), errno, "dup");
  Own(info.Env(), copy);
  return Napi::Number::New(info.Env(), copy);
}

// An OwnedDescriptor made from a number (a ListeningDescriptor, new OwnedDescriptor(fd)).
Napi::Value OwnFd(const Napi::CallbackInfo& info) {
  Own(info.Env(), FdArg(info, 0));
  return info.Env().Undefined();
}

// release(): the new owner (libuv, a child, the caller) closes it from now on.
Napi::Value DisownFd(const Napi::CallbackInfo& info) {
  Disown(info.Env(), FdArg(info, 0));
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  Disown(info.Env(), fd);  // first: whatever close() says, the number is no longer ours
  // Never retried on EINTR: on Linux the descriptor is already gone by then, and a retry
  // could close a number another thread has just been given.
  if (close(fd) != 0 && errno != EINTR) throw ErrnoError(info.Env(), errno, "close");
  return info.Env().Undefined();
}

// The garbage collector's safety net (lib/core/descriptor.ts): closes `fd` only if this
// environment still owns it and the number names the same file, so that an object whose
// descriptor was closed behind its back never closes the file that reused the number.
Napi::Value CloseIfOwned(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  if (!DisownIfSame(info.Env(), fd)) return Napi::Boolean::New(info.Env(), false);
  if (close(fd) != 0 && errno != EINTR) throw ErrnoError(info.Env(), errno, "close");
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace

void InitDescriptors(Napi::Env env, Napi::Object exports) {
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("closeIfOwned", Napi::Function::New(env, CloseIfOwned, "closeIfOwned"));
  exports.Set("own", Napi::Function::New(env, OwnFd, "own"));
  exports.Set("disown", Napi::Function::New(env, DisownFd, "disown"));
}

}  // namespace sockctl
