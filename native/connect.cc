// A client's non-blocking connect: connect(2) (EINPROGRESS) to the address built by
// address.h (a numeric literal: names are resolved in TypeScript, as Node's connect does),
// getsockopt(2) SO_ERROR read at completion (socket(7)), tcp(7); the wait for writability
// is the loop watcher's (watcher.h), so the event loop never blocks.
// The descriptor stays the caller's (lib/connect/), which closes it on every failure.
#include <sys/socket.h>

#include <cerrno>

#include "address.h"
#include "errors.h"
#include "init.h"
#include "watcher.h"

namespace sockctl {

namespace {

// connect(fd, address, port): true when connected at once, false while in progress.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  InetAddress address = InetAddressArg(info, 1, "address", 2, "port", "connect");
  if (connect(fd, address.get(), address.length) == 0) return Napi::Boolean::New(env, true);
  // EINTR on a non-blocking connect: the handshake goes on without us, as EINPROGRESS.
  if (errno == EINPROGRESS || errno == EINTR) return Napi::Boolean::New(env, false);
  throw ErrnoError(env, errno, "connect");
}

// connectWait(fd, callback): calls callback(errno) once the connect completes (0: connected).
// Also what lib/handover/notify.ts waits with for room on a connected datagram socket.
Napi::Value ConnectWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (info.Length() < 2 || !info[1].IsFunction()) throw ArgTypeError(env, "callback", "of type function");
  StartWait(env, fd, kWaitWritable, true, info[1], "connect");
  return env.Undefined();
}

// connectCancel(fd): forgets the pending completion (its callback never runs); true if there was one.
Napi::Value ConnectCancel(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), CancelWait(FdArg(info, 0)));
}

}  // namespace

void InitConnect(Napi::Env env, Napi::Object exports) {
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
  exports.Set("connectWait", Napi::Function::New(env, ConnectWait, "connectWait"));
  exports.Set("connectCancel", Napi::Function::New(env, ConnectCancel, "connectCancel"));
}

}  // namespace sockctl
