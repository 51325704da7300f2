// A client's non-blocking connect: connect(2) (EINPROGRESS), getaddrinfo(3)
// (AI_NUMERICHOST only: names are resolved in TypeScript, as Node's connect does),
// getsockopt(2) SO_ERROR read at completion (socket(7)), tcp(7); the wait for writability
// is the loop watcher's (watcher.h), so the event loop never blocks.
// The descriptor stays the caller's (lib/connect/), which closes it on every failure.
#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "addrinfo.h"
#include "errors.h"
#include "init.h"
#include "watcher.h"

namespace sockctl {

namespace {

// connect(fd, address, port): true when connected at once, false while in progress.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (info.Length() < 2 || !info[1].IsString()) throw ArgTypeError(env, "address", "of type string");
  std::string address = info[1].As<Napi::String>().Utf8Value();
  if (address.find('\0') != std::string::npos) throw ErrnoError(env, EINVAL, "connect");
  int port = IntArg(info, 2, "port");
  if (port < 0 || port > 65535) throw ErrnoError(env, EINVAL, "connect");

  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  AddrInfoList list;
  std::string service = std::to_string(port);
  if (getaddrinfo(address.c_str(), service.c_str(), &hints, &list.head) != 0 || list.head == nullptr) {
    throw ErrnoError(env, EINVAL, "connect");
  }
  if (connect(fd, list.head->ai_addr, list.head->ai_addrlen) == 0) return Napi::Boolean::New(env, true);
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
