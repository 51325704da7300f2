// sd_notify(3) without libsystemd: one datagram on an AF_UNIX SOCK_DGRAM socket (unix(7))
// to NOTIFY_SOCKET, a path or an abstract '@name' (the address "\0name", its length
// offsetof(sun_path) + 1 + strlen(name): sizeof(sockaddr_un) would name another socket).
// socket(2) with SOCK_CLOEXEC, sendto(2) and send(2) with MSG_NOSIGNAL | MSG_DONTWAIT: a
// receiver whose queue is full gives EAGAIN instead of blocking the event loop; connect(2)
// makes poll(2) wait for room (lib/handover/notify.ts waits on the loop).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "environment.h"
#include "errors.h"
#include "init.h"
#include "sys/sys.h"

namespace sockctl {

namespace {

// NOTIFY_SOCKET as an address: a path, or '@name' for the abstract "\0name".
socklen_t NotifyAddress(Napi::Env env, const Napi::CallbackInfo& info, sockaddr_un* un) {
  if (info.Length() < 1 || !info[0].IsString()) throw ArgTypeError(env, "address", "of type string");
  std::string address = info[0].As<Napi::String>().Utf8Value();
  *un = {};
  un->sun_family = AF_UNIX;
  if (address.size() < 2 || (address[0] != '/' && address[0] != '@') || address.size() > sizeof un->sun_path - 1 ||
      address.find('\0') != std::string::npos) {
    throw ErrnoError(env, EINVAL, "connect");
  }
  std::memcpy(un->sun_path, address.data(), address.size());
  if (address[0] == '@') {
    un->sun_path[0] = '\0';
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
  }
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + 1);
}

OwnedFd OpenDatagram(Napi::Env env) {
  OwnedFd fd(sys::Socket(AF_UNIX, SOCK_DGRAM, 0));
  if (!fd.valid()) throw ErrnoError(env, errno, "socket");
  return fd;
}

Napi::Value Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un un;
  socklen_t length = NotifyAddress(env, info, &un);
  Napi::Buffer<char> message = BufferArg(info, 1, "message");
  OwnedFd sock = OpenDatagram(env);
  ssize_t sent;
  do {
    sent = sendto(sock.get(), message.Data(), message.Length(), sys::kSendFlags, reinterpret_cast<sockaddr*>(&un), length);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) throw ErrnoError(env, errno, "sendto");
  return Napi::Number::New(env, static_cast<double>(sent));
}

// notifyConnect(address): a datagram socket connect()ed to NOTIFY_SOCKET, owned by this
// environment. Connected, it reports POLLOUT only while the receiver's queue has room
// (an unconnected one always does, and then gets EAGAIN), so a wait on the loop works.
Napi::Value NotifyConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un un;
  socklen_t length = NotifyAddress(env, info, &un);
  OwnedFd sock = OpenDatagram(env);
  int result;
  do {
    result = connect(sock.get(), reinterpret_cast<sockaddr*>(&un), length);
  } while (result != 0 && errno == EINTR);
  if (result != 0) throw ErrnoError(env, errno, "connect");
  return Napi::Number::New(env, ForJavaScript(env, std::move(sock)));
}

// notifySend(fd, message[, passFd]): bytes sent, or -1 while the receiver's queue is full
// (EAGAIN). With passFd, the descriptor goes with the datagram (SCM_RIGHTS): sd_notify's
// BARRIER=1 sends the write end of a pipe, which the manager closes once it has read
// everything before it.
Napi::Value NotifySend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  Napi::Buffer<char> message = BufferArg(info, 1, "message");
  int pass = info.Length() > 2 && !info[2].IsUndefined() ? FdArg(info, 2) : -1;
  iovec iov = {message.Data(), message.Length()};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (pass >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass, sizeof pass);
  }
  ssize_t sent;
  do {
    sent = sendmsg(fd, &msg, sys::kSendFlags);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Napi::Number::New(env, -1);
  if (sent < 0) throw ErrnoError(env, errno, "sendmsg");
  return Napi::Number::New(env, static_cast<double>(sent));
}

}  // namespace

void InitNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("notify", Napi::Function::New(env, Notify, "notify"));
  exports.Set("notifyConnect", Napi::Function::New(env, NotifyConnect, "notifyConnect"));
  exports.Set("notifySend", Napi::Function::New(env, NotifySend, "notifySend"));
}

}  // namespace sockctl
