// A fresh, unbound socket: socket(2), close-on-exec and non-blocking (sys::Socket: atomically
// on Linux, by fcntl(2) right after on macOS).
// The caller (lib/core/socket.ts) owns the descriptor, registered at once (environment.h).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "environment.h"
#include "errors.h"
#include "init.h"
#include "sys/sys.h"

namespace sockctl {

namespace {

Napi::Value Socket(const Napi::CallbackInfo& info) {
  int domain = IntArg(info, 0, "domain");
  int type = IntArg(info, 1, "type");
  int fd = sys::Socket(domain, type, 0);
  if (fd < 0) throw ErrnoError(info.Env(), errno, "socket");
  Own(info.Env(), fd);
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void InitSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("socket", Napi::Function::New(env, Socket, "socket"));
}

}  // namespace sockctl
