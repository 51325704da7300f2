// A listening TCP socket from a descriptor made by socket.cc and given its options:
// bind(2) (the address built by address.h), listen(2), getsockname(2), inet_ntop(3),
// ip(7), ipv6(7).
// The descriptor stays the caller's (lib/listen/listener.ts), which closes it on any failure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "address.h"
#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

Napi::Value Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  InetAddress address = InetAddressArg(info, 1, "address", 2, "port", "bind");
  if (bind(fd, address.get(), address.length) != 0) throw ErrnoError(env, errno, "bind");
  return env.Undefined();
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int backlog = IntArg(info, 1, "backlog");
  if (listen(fd, backlog) != 0) throw ErrnoError(info.Env(), errno, "listen");
  return info.Env().Undefined();
}

// What Node's server.address() gives: { address, family: 'IPv4' | 'IPv6', port }.
Napi::Value LocalAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  sockaddr_storage storage = {};
  socklen_t length = sizeof storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) throw ErrnoError(env, errno, "getsockname");

  char text[INET6_ADDRSTRLEN] = {};
  int port = 0;
  const char* family = nullptr;
  if (storage.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
    family = "IPv4";
  } else if (storage.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
    family = "IPv6";
  } else {
    throw ErrnoError(env, EAFNOSUPPORT, "getsockname");
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("address", Napi::String::New(env, text));
  result.Set("family", Napi::String::New(env, family));
  result.Set("port", Napi::Number::New(env, port));
  return result;
}

}  // namespace

void InitListener(Napi::Env env, Napi::Object exports) {
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  exports.Set("listen", Napi::Function::New(env, Listen, "listen"));
  exports.Set("localAddress", Napi::Function::New(env, LocalAddress, "localAddress"));
}

}  // namespace sockctl
