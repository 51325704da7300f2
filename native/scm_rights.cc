// Descriptors between processes over AF_UNIX stream sockets: unix(7) SCM_RIGHTS and
// SO_PEERCRED, cmsg(3), sendmsg(2) / recvmsg(2) with MSG_CMSG_CLOEXEC (each arrival is
// close-on-exec at once), socket(2) / bind(2) / listen(2) / connect(2), fchmod(2) before
// bind (Linux gives the socket file the socket inode's mode: 0600 from the start).
//
// On a stream socket descriptors travel with a data byte (SCM_RIGHTS with 0 bytes sends
// nothing), so every send carries data; the framing is lib/handover/frames.ts's. A
// truncated control message (MSG_CTRUNC: too small a buffer, or the receiver at its
// descriptor limit) closes whatever did arrive and is reported, never handed on.
//
// send and recv never wait: they do what the socket allows now (non-blocking), and
// lib/handover/scm-rights.ts waits for readiness on the event loop (waitFd, watcher.h), no
// pool thread held however long the wait.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "environment.h"
#include "errors.h"
#include "init.h"
#include "sys/sys.h"

namespace sockctl {

namespace {

constexpr size_t kMaxBytes = 1 << 20;
constexpr int kMaxFds = 253;  // SCM_MAX_FD

OwnedFd StreamSocket(Napi::Env env) {
  OwnedFd fd(sys::Socket(AF_UNIX, SOCK_STREAM, 0));
  if (!fd.valid()) throw ErrnoError(env, errno, "socket");
  return fd;
}

// A path (never abstract here: a path has a mode and an owner) into sockaddr_un.
socklen_t PathAddress(Napi::Env env, const Napi::CallbackInfo& info, sockaddr_un* un, const char* syscall) {
  if (info.Length() < 1 || !info[0].IsString()) throw ArgTypeError(env, "path", "of type string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path.size() > sizeof un->sun_path - 1 || path.find('\0') != std::string::npos) {
    throw ErrnoError(env, path.empty() ? ENOENT : ENAMETOOLONG, syscall);
  }
  *un = {};
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
}

void CloseAll(const std::vector<int>& fds) {
  for (int fd : fds) close(fd);
}

Napi::Value UnixListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un un;
  socklen_t length = PathAddress(env, info, &un, "bind");
  int backlog = IntArg(info, 1, "backlog");
  OwnedFd fd = StreamSocket(env);
  const char* failed = nullptr;
  if (fchmod(fd.get(), 0600) != 0) failed = "fchmod";
  else if (bind(fd.get(), reinterpret_cast<sockaddr*>(&un), length) != 0) failed = "bind";
  else if (chmod(un.sun_path, 0600) != 0) failed = "chmod";  // where fchmod did not carry over
  else if (listen(fd.get(), backlog) != 0) failed = "listen";
  if (failed != nullptr) {
    int saved = errno;
    fd.Reset();
    // Bound but not listening: the file it made would make the next bind EADDRINUSE.
    if (std::strcmp(failed, "chmod") == 0 || std::strcmp(failed, "listen") == 0) unlink(un.sun_path);
    throw ErrnoError(env, saved, failed);
  }
  return Napi::Number::New(env, ForJavaScript(env, std::move(fd)));
}

Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un un;
  socklen_t length = PathAddress(env, info, &un, "connect");
  OwnedFd fd = StreamSocket(env);
  int result;
  do {
    result = connect(fd.get(), reinterpret_cast<sockaddr*>(&un), length);
  } while (result != 0 && errno == EINTR);
  if (result != 0) throw ErrnoError(env, errno, "connect");
  return Napi::Number::New(env, ForJavaScript(env, std::move(fd)));
}

Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  sys::Credentials cred;
  int error = sys::PeerCredentials(fd, &cred);  // ENOTSUP where there is no SO_PEERCRED
  if (error != 0) throw ErrnoError(env, error, "getsockopt");
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, cred.pid));
  result.Set("uid", Napi::Number::New(env, cred.uid));
  result.Set("gid", Napi::Number::New(env, cred.gid));
  return result;
}

// sendFds(fd, data, fds) -> bytes sent now, 0 when the socket takes nothing yet (EAGAIN:
// lib/handover/scm-rights.ts waits for room on the loop, waitFd). The descriptors go with
// the first byte, so a caller that got a partial count sends the rest without them.
Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  Napi::Buffer<char> data = BufferArg(info, 1, "data");
  if (data.Length() == 0 || data.Length() > kMaxBytes) throw ErrnoError(env, EMSGSIZE, "sendmsg");
  if (info.Length() < 3 || !info[2].IsArray()) throw ArgTypeError(env, "fds", "an instance of Array");
  Napi::Array list = info[2].As<Napi::Array>();
  if (list.Length() > static_cast<uint32_t>(kMaxFds)) throw ErrnoError(env, EINVAL, "sendmsg");
  std::vector<int> fds;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 2147483647.0) || static_cast<double>(static_cast<int>(d)) != d) throw ArgTypeError(env, "fds", "an array of descriptors");
    fds.push_back(static_cast<int>(d));
  }
  iovec iov = {data.Data(), data.Length()};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t sent;
  do {
    sent = sendmsg(fd, &msg, sys::kSendFlags);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Napi::Number::New(env, 0);
  if (sent < 0) throw ErrnoError(env, errno, "sendmsg");
  return Napi::Number::New(env, static_cast<double>(sent));
}

// recvFds(fd, maxBytes, maxFds) -> { data, fds, truncated }, or null when nothing is there
// now (EAGAIN: lib/handover/scm-rights.ts waits on the loop, waitFd). data is empty at EOF.
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  int max_bytes = IntArg(info, 1, "maxBytes");
  int max_fds = IntArg(info, 2, "maxFds");
  if (max_bytes < 1 || static_cast<size_t>(max_bytes) > kMaxBytes) throw ErrnoError(env, EMSGSIZE, "recvmsg");
  if (max_fds < 0 || max_fds > kMaxFds) throw ErrnoError(env, EINVAL, "recvmsg");
  std::vector<char> data(static_cast<size_t>(max_bytes));
  // Room for max_fds: the kernel discards the rest and says MSG_CTRUNC.
  std::vector<char> control(max_fds > 0 ? CMSG_SPACE(sizeof(int) * max_fds) : 0);
  iovec iov = {data.data(), data.size()};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.empty() ? nullptr : control.data();
  msg.msg_controllen = control.size();
  ssize_t got;
  do {
    got = recvmsg(fd, &msg, sys::kReceiveFlags);
  } while (got < 0 && errno == EINTR);
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return env.Null();
  if (got < 0) throw ErrnoError(env, errno, "recvmsg");
  // Rule 2 of environment.h: each arrival is owned at once, before anything can throw.
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* p = CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) {
      int arrived;
      std::memcpy(&arrived, p + i * sizeof(int), sizeof arrived);
      sys::ArrivedCloexec(arrived);
      Own(env, arrived);
      fds.push_back(arrived);
    }
  }
  // CMSG_SPACE rounds up to a multiple of 8 bytes: room for 1 is room for 2, so the count is
  // checked here too. More than asked for is a truncation, all of them closed.
  int truncated = -1;
  if ((msg.msg_flags & MSG_CTRUNC) != 0 || fds.size() > static_cast<size_t>(max_fds)) {
    truncated = static_cast<int>(fds.size());
    for (int each : fds) Disown(env, each);
    CloseAll(fds);
    fds.clear();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", Napi::Buffer<char>::Copy(env, data.data(), static_cast<size_t>(got)));
  Napi::Array list = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) list.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds[i]));
  result.Set("fds", list);
  // MSG_CTRUNC: how many had arrived (and were closed); -1 when not truncated.
  result.Set("truncated", Napi::Number::New(env, truncated));
  return result;
}

}  // namespace

void InitScmRights(Napi::Env env, Napi::Object exports) {
  exports.Set("unixListen", Napi::Function::New(env, UnixListen, "unixListen"));
  exports.Set("unixConnect", Napi::Function::New(env, UnixConnect, "unixConnect"));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("sendFds", Napi::Function::New(env, SendFds, "sendFds"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
}

}  // namespace sockctl
