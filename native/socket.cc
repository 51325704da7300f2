// A fresh, unbound socket: socket(2) with SOCK_CLOEXEC and SOCK_NONBLOCK set atomically
// where the platform has them (Linux, the BSDs), else by fcntl(2) right after (macOS).
// The caller (lib/core/socket.ts) owns the descriptor, registered at once (environment.h).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "environment.h"
#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

int OpenSocket(int domain, int type) {
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
  return socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
#else
  int fd = socket(domain, type, 0);
  if (fd < 0) return fd;
  int flags = fcntl(fd, F_GETFL);
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
#endif
}

Napi::Value Socket(const Napi::CallbackInfo& info) {
  int domain = IntArg(info, 0, "domain");
  int type = IntArg(info, 1, "type");
  int fd = OpenSocket(domain, type);
  if (fd < 0) throw ErrnoError(info.Env(), errno, "socket");
  Own(info.Env(), fd);
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void InitSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("socket", Napi::Function::New(env, Socket, "socket"));
}

}  // namespace sockctl
