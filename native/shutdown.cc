// shutdown(2): acts on the socket itself, for every descriptor and process sharing it.
#include <sys/socket.h>

#include <cerrno>

#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

bool IsListening(int fd) {
  int listening = 0;
  socklen_t length = sizeof listening;
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0 && listening != 0;
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int how = IntArg(info, 1, "how");
  // A listener is not connected: POSIX and the BSDs say ENOTCONN. Linux instead ignores
  // SHUT_WR and silently stops listening on SHUT_RD, so say ENOTCONN here as well.
  if (IsListening(fd)) throw ErrnoError(info.Env(), ENOTCONN, "shutdown");
  if (shutdown(fd, how) != 0) throw ErrnoError(info.Env(), errno, "shutdown");
  return info.Env().Undefined();
}

}  // namespace

void InitShutdown(Napi::Env env, Napi::Object exports) {
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
}

}  // namespace sockctl
