// sd_notify(3) without libsystemd: one datagram on an AF_UNIX SOCK_DGRAM socket (unix(7))
// to NOTIFY_SOCKET, a path or an abstract '@name' (the address "\0name", its length
// offsetof(sun_path) + 1 + strlen(name): sizeof(sockaddr_un) would name another socket).
// socket(2) with SOCK_CLOEXEC, sendto(2) with MSG_NOSIGNAL | MSG_DONTWAIT: a receiver
// whose queue is full gives EAGAIN instead of blocking the event loop.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

#ifdef MSG_NOSIGNAL
constexpr int kNotifyFlags = MSG_NOSIGNAL | MSG_DONTWAIT;
#else
constexpr int kNotifyFlags = MSG_DONTWAIT;
#endif

// Closes the datagram socket on every path.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

Napi::Value Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw ArgTypeError(env, "address", "of type string");
  if (info.Length() < 2 || !info[1].IsBuffer()) throw ArgTypeError(env, "message", "an instance of Buffer");
  std::string address = info[0].As<Napi::String>().Utf8Value();
  Napi::Buffer<char> message = info[1].As<Napi::Buffer<char>>();

  sockaddr_un un = {};
  un.sun_family = AF_UNIX;
  socklen_t length = 0;
  if (address.size() < 2 || (address[0] != '/' && address[0] != '@') || address.size() > sizeof un.sun_path - 1 ||
      address.find('\0') != std::string::npos) {
    throw ErrnoError(env, EINVAL, "connect");
  }
  std::memcpy(un.sun_path, address.data(), address.size());
  if (address[0] == '@') {
    un.sun_path[0] = '\0';
    length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
  } else {
    length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + 1);
  }

#ifdef SOCK_CLOEXEC
  Fd sock{socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
#else
  Fd sock{socket(AF_UNIX, SOCK_DGRAM, 0)};
#endif
  if (sock.fd < 0) throw ErrnoError(env, errno, "socket");
  ssize_t sent;
  do {
    sent = sendto(sock.fd, message.Data(), message.Length(), kNotifyFlags, reinterpret_cast<sockaddr*>(&un), length);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) throw ErrnoError(env, errno, "sendto");
  return Napi::Number::New(env, static_cast<double>(sent));
}

}  // namespace

void InitNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("notify", Napi::Function::New(env, Notify, "notify"));
}

}  // namespace sockctl
