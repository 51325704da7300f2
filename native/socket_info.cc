// What a descriptor is, for descriptors this process did not make (systemd's, or received
// over SCM_RIGHTS): fstat(2) S_ISSOCK, getsockopt(2) SO_TYPE / SO_DOMAIN / SO_ACCEPTCONN
// (socket(7)), getsockname(2), unix(7) for a path or an abstract name, inet_ntop(3);
// and fcntl(2) F_SETFD FD_CLOEXEC, which sd_listen_fds(3) sets on what it hands over.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <string>

#include "errors.h"
#include "sys/sys.h"
#include "init.h"

namespace sockctl {

namespace {

int IntSockopt(Napi::Env env, int fd, int name) {
  int value = 0;
  socklen_t length = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, name, &value, &length) != 0) throw ErrnoError(env, errno, "getsockopt");
  return value;
}

// { inode, type, family, listening, address, port } or, for AF_UNIX, { ..., path }
// ('@name' for an abstract address, '' unbound). ENOTSOCK for anything but a socket.
Napi::Value DescribeSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  struct stat st = {};
  if (sys::FileStat(fd, &st) != 0) throw ErrnoError(env, errno, "fstat");
  if (!S_ISSOCK(st.st_mode)) throw ErrnoError(env, ENOTSOCK, "fstat");

  sockaddr_storage storage = {};
  socklen_t length = sizeof storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) throw ErrnoError(env, errno, "getsockname");

  Napi::Object result = Napi::Object::New(env);
  result.Set("inode", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  int type = IntSockopt(env, fd, SO_TYPE);
  result.Set("type", type == SOCK_STREAM      ? "stream"
                     : type == SOCK_DGRAM     ? "datagram"
                     : type == SOCK_SEQPACKET ? "seqpacket"
                                              : "other");
  result.Set("family", storage.ss_family == AF_INET    ? "ipv4"
                       : storage.ss_family == AF_INET6 ? "ipv6"
                       : storage.ss_family == AF_UNIX  ? "unix"
                                                       : "other");
  // SO_ACCEPTCONN: Linux answers for every family; elsewhere a datagram socket may refuse.
  int listening = 0;
  socklen_t size = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0) listening = 0;
  result.Set("listening", Napi::Boolean::New(env, listening != 0));

  char text[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    result.Set("address", Napi::String::New(env, text));
    result.Set("port", Napi::Number::New(env, ntohs(in->sin_port)));
  } else if (storage.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    result.Set("address", Napi::String::New(env, text));
    result.Set("port", Napi::Number::New(env, ntohs(in6->sin6_port)));
  } else if (storage.ss_family == AF_UNIX) {
    auto* un = reinterpret_cast<sockaddr_un*>(&storage);
    size_t used = length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
    std::string path;
    if (used > 0 && un->sun_path[0] == '\0') {
      path = "@" + std::string(un->sun_path + 1, used - 1);
    } else if (used > 0) {
      path = std::string(un->sun_path, strnlen(un->sun_path, used));
    }
    result.Set("path", Napi::String::New(env, path));
  }
  return result;
}

Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) throw ErrnoError(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

// For tests and checks: whether close-on-exec is set.
Napi::Value GetCloexec(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) throw ErrnoError(info.Env(), errno, "fcntl");
  return Napi::Boolean::New(info.Env(), (flags & FD_CLOEXEC) != 0);
}

}  // namespace

void InitSocketInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("describeSocket", Napi::Function::New(env, DescribeSocket, "describeSocket"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  exports.Set("getCloexec", Napi::Function::New(env, GetCloexec, "getCloexec"));
}

}  // namespace sockctl
