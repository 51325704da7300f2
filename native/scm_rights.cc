// Descriptors between processes over AF_UNIX stream sockets: unix(7) SCM_RIGHTS and
// SO_PEERCRED, cmsg(3), sendmsg(2) / recvmsg(2) with MSG_CMSG_CLOEXEC (each arrival is
// close-on-exec at once), socket(2) / bind(2) / listen(2) / connect(2), fchmod(2) before
// bind (Linux gives the socket file the socket inode's mode: 0600 from the start), poll(2).
//
// On a stream socket descriptors travel with a data byte (SCM_RIGHTS with 0 bytes sends
// nothing), so every send carries data; the framing is lib/handover/frames.ts's. A
// truncated control message (MSG_CTRUNC: too small a buffer, or the receiver at its
// descriptor limit) closes whatever did arrive and is reported, never handed on.
//
// send and recv wait in the thread pool: poll(2) in slices, so that a flag the caller
// sets (an AbortSignal) or the deadline ends the wait; no C++ exception leaves a worker.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

constexpr int kSliceMs = 50;
constexpr size_t kMaxBytes = 1 << 20;
constexpr int kMaxFds = 253;  // SCM_MAX_FD

#ifdef MSG_NOSIGNAL
constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;
#else
constexpr int kSendFlags = MSG_DONTWAIT;
#endif
#ifdef MSG_CMSG_CLOEXEC
constexpr int kRecvFlags = MSG_CMSG_CLOEXEC | MSG_DONTWAIT;
#else
constexpr int kRecvFlags = MSG_DONTWAIT;
#endif

int StreamSocket() {
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
  return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
#else
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd >= 0) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  return fd;
#endif
}

// A path (never abstract here: a path has a mode and an owner) into sockaddr_un.
socklen_t PathAddress(Napi::Env env, const Napi::CallbackInfo& info, sockaddr_un* un) {
  if (info.Length() < 1 || !info[0].IsString()) throw ArgTypeError(env, "path", "of type string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path.size() > sizeof un->sun_path - 1 || path.find('\0') != std::string::npos) {
    throw ErrnoError(env, ENAMETOOLONG, "bind");
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
  socklen_t length = PathAddress(env, info, &un);
  int backlog = IntArg(info, 1, "backlog");
  int fd = StreamSocket();
  if (fd < 0) throw ErrnoError(env, errno, "socket");
  const char* failed = nullptr;
  if (fchmod(fd, 0600) != 0) failed = "fchmod";
  else if (bind(fd, reinterpret_cast<sockaddr*>(&un), length) != 0) failed = "bind";
  else if (chmod(un.sun_path, 0600) != 0) failed = "chmod";  // where fchmod did not carry over
  else if (listen(fd, backlog) != 0) failed = "listen";
  if (failed != nullptr) {
    int saved = errno;
    close(fd);
    throw ErrnoError(env, saved, failed);
  }
  return Napi::Number::New(env, fd);
}

Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un un;
  socklen_t length = PathAddress(env, info, &un);
  int fd = StreamSocket();
  if (fd < 0) throw ErrnoError(env, errno, "socket");
  int result;
  do {
    result = connect(fd, reinterpret_cast<sockaddr*>(&un), length);
  } while (result != 0 && errno == EINTR);
  if (result != 0) {
    int saved = errno;
    close(fd);
    throw ErrnoError(env, saved, "connect");
  }
  return Napi::Number::New(env, fd);
}

Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
#ifdef SO_PEERCRED
  struct ucred cred = {};
  socklen_t length = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) throw ErrnoError(env, errno, "getsockopt");
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, cred.pid));
  result.Set("uid", Napi::Number::New(env, cred.uid));
  result.Set("gid", Napi::Number::New(env, cred.gid));
  return result;
#else
  throw ErrnoError(env, ENOTSUP, "getsockopt");
#endif
}

// The wait both workers share: until `events` on fd, the deadline (ETIMEDOUT) or the
// caller's flag (ECANCELED). 0 when ready, else the errno.
int WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline, const int32_t* cancel) {
  for (;;) {
    if (__atomic_load_n(cancel, __ATOMIC_SEQ_CST) != 0) return ECANCELED;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return ETIMEDOUT;
    pollfd p = {fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(left < kSliceMs ? left : kSliceMs));
    if (n < 0 && errno != EINTR) return errno;
    if (n > 0) return 0;  // readable, writable, or an error/hang-up the next call reports
  }
}

// The parts both workers share: the promise, the cancel flag kept alive, the deadline.
class FdWorker : public Napi::AsyncWorker {
 public:
  FdWorker(Napi::Env env, int fd, int timeout_ms, Napi::Int32Array cancel)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        fd_(fd),
        deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms)),
        cancel_ref_(Napi::Persistent(cancel)),
        cancel_(cancel.Data()) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void OnError(const Napi::Error&) override {
    // A terminating environment cannot make the error: swallow, never throw out of here.
    try {
      deferred_.Reject(ErrnoError(Env(), errno_, syscall_).Value());
    } catch (...) {
    }
  }

  Napi::Promise::Deferred deferred_;
  int fd_;
  std::chrono::steady_clock::time_point deadline_;
  Napi::Reference<Napi::Int32Array> cancel_ref_;
  const int32_t* cancel_;
  int errno_ = 0;
  const char* syscall_ = "";

  void Fail(int err, const char* syscall) {
    errno_ = err;
    syscall_ = syscall;
    SetError(syscall);
  }
};

class SendWorker : public FdWorker {
 public:
  SendWorker(Napi::Env env, int fd, Napi::Buffer<char> data, std::vector<int> fds, int timeout_ms, Napi::Int32Array cancel)
      : FdWorker(env, fd, timeout_ms, cancel), data_(data.Data(), data.Data() + data.Length()), fds_(std::move(fds)) {}

  void Execute() override {
    size_t done = 0;
    while (done < data_.size()) {
      int wait = WaitFor(fd_, POLLOUT, deadline_, cancel_);
      if (wait != 0) return Fail(wait, "sendmsg");
      iovec iov = {data_.data() + done, data_.size() - done};
      msghdr msg = {};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      std::vector<char> control;
      if (done == 0 && !fds_.empty()) {
        // The descriptors go with the first byte; a partial send has delivered them.
        control.assign(CMSG_SPACE(sizeof(int) * fds_.size()), 0);
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds_.size());
        std::memcpy(CMSG_DATA(c), fds_.data(), sizeof(int) * fds_.size());
      }
      ssize_t sent = sendmsg(fd_, &msg, kSendFlags);
      if (sent < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return Fail(errno, "sendmsg");
      }
      done += static_cast<size_t>(sent);
    }
  }

  void OnOK() override {
    try {
      deferred_.Resolve(Napi::Number::New(Env(), static_cast<double>(data_.size())));
    } catch (...) {
    }
  }

 private:
  std::vector<char> data_;
  std::vector<int> fds_;
};

class RecvWorker : public FdWorker {
 public:
  RecvWorker(Napi::Env env, int fd, size_t max_bytes, int max_fds, int timeout_ms, Napi::Int32Array cancel)
      : FdWorker(env, fd, timeout_ms, cancel), data_(max_bytes), max_fds_(max_fds) {}

  ~RecvWorker() override { CloseAll(fds_); }  // only what was never handed to JavaScript

  void Execute() override {
    for (;;) {
      int wait = WaitFor(fd_, POLLIN, deadline_, cancel_);
      if (wait != 0) return Fail(wait, "recvmsg");
      iovec iov = {data_.data(), data_.size()};
      // Room for max_fds and no more: the kernel discards the rest and says MSG_CTRUNC.
      std::vector<char> control(max_fds_ > 0 ? CMSG_SPACE(sizeof(int) * max_fds_) : 0);
      msghdr msg = {};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.empty() ? nullptr : control.data();
      msg.msg_controllen = control.size();
      ssize_t got = recvmsg(fd_, &msg, kRecvFlags);
      if (got < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return Fail(errno, "recvmsg");
      }
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char* p = CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
          int fd;
          std::memcpy(&fd, p + i * sizeof(int), sizeof fd);
#ifndef MSG_CMSG_CLOEXEC
          fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
          fds_.push_back(fd);
        }
      }
      if ((msg.msg_flags & MSG_CTRUNC) != 0) {
        truncated_ = static_cast<int>(fds_.size());
        CloseAll(fds_);
        fds_.clear();
      }
      data_.resize(static_cast<size_t>(got));
      return;
    }
  }

  void OnOK() override {
    try {
      Napi::Env env = Env();
      Napi::Object result = Napi::Object::New(env);
      result.Set("data", Napi::Buffer<char>::Copy(env, data_.data(), data_.size()));
      Napi::Array fds = Napi::Array::New(env, fds_.size());
      for (size_t i = 0; i < fds_.size(); i++) fds.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds_[i]));
      result.Set("fds", fds);
      // MSG_CTRUNC: how many had arrived (and were closed); -1 when not truncated.
      result.Set("truncated", Napi::Number::New(env, truncated_));
      deferred_.Resolve(result);
      fds_.clear();  // JavaScript owns them now
    } catch (...) {
      // fds_ stay in the list: the destructor closes them.
    }
  }

 private:
  std::vector<char> data_;
  int max_fds_;
  std::vector<int> fds_;
  int truncated_ = -1;
};

Napi::Int32Array CancelArg(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || info[index].As<Napi::Int32Array>().ElementLength() < 1) {
    throw ArgTypeError(info.Env(), "cancel", "an instance of Int32Array");
  }
  return info[index].As<Napi::Int32Array>();
}

// sendFds(fd, data, fds, timeoutMs, cancel) -> Promise<number of bytes>
Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (info.Length() < 2 || !info[1].IsBuffer()) throw ArgTypeError(env, "data", "an instance of Buffer");
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  if (data.Length() == 0 || data.Length() > kMaxBytes) throw ErrnoError(env, EMSGSIZE, "sendmsg");
  if (info.Length() < 3 || !info[2].IsArray()) throw ArgTypeError(env, "fds", "an instance of Array");
  Napi::Array list = info[2].As<Napi::Array>();
  if (list.Length() > static_cast<uint32_t>(kMaxFds)) throw ErrnoError(env, ETOOMANYREFS, "sendmsg");
  std::vector<int> fds;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 2147483647.0) || static_cast<double>(static_cast<int>(d)) != d) throw ArgTypeError(env, "fds", "an array of descriptors");
    fds.push_back(static_cast<int>(d));
  }
  int timeout = IntArg(info, 3, "timeoutMs");
  auto* worker = new SendWorker(env, fd, data, std::move(fds), timeout, CancelArg(info, 4));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// recvFds(fd, maxBytes, maxFds, timeoutMs, cancel) -> Promise<{ data, fds, truncated }>
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  int max_bytes = IntArg(info, 1, "maxBytes");
  int max_fds = IntArg(info, 2, "maxFds");
  if (max_bytes < 1 || static_cast<size_t>(max_bytes) > kMaxBytes) throw ErrnoError(env, EMSGSIZE, "recvmsg");
  if (max_fds < 0 || max_fds > kMaxFds) throw ErrnoError(env, ETOOMANYREFS, "recvmsg");
  int timeout = IntArg(info, 3, "timeoutMs");
  auto* worker = new RecvWorker(env, fd, static_cast<size_t>(max_bytes), max_fds, timeout, CancelArg(info, 4));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
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
