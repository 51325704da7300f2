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
// send and recv wait in the thread pool for one short slice at most (poll(2), up to
// 250 ms), then resolve, done or not: lib/handover/scm-rights.ts loops until its deadline
// or AbortSignal. A Worker that ends waits for its pool work to finish before anything
// else of it is cleaned up, so no wait may be long. The worker polls a duplicate of the
// descriptor, so a close (and reuse of the number) meanwhile cannot redirect it. No C++
// exception leaves a worker.
#include <fcntl.h>
#include <poll.h>
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
#include "promise_worker.h"
#include "sys/sys.h"

namespace sockctl {

namespace {

constexpr int kMaxSliceMs = 250;
constexpr size_t kMaxBytes = 1 << 20;
constexpr int kMaxFds = 253;  // SCM_MAX_FD

int StreamSocket() { return sys::Socket(AF_UNIX, SOCK_STREAM, 0); }

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
    // Bound but not listening: the file it made would make the next bind EADDRINUSE.
    if (std::strcmp(failed, "chmod") == 0 || std::strcmp(failed, "listen") == 0) unlink(un.sun_path);
    throw ErrnoError(env, saved, failed);
  }
  return Napi::Number::New(env, fd);
}

Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un un;
  socklen_t length = PathAddress(env, info, &un, "connect");
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
  sys::Credentials cred;
  int error = sys::PeerCredentials(fd, &cred);  // ENOTSUP where there is no SO_PEERCRED
  if (error != 0) throw ErrnoError(env, error, "getsockopt");
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, cred.pid));
  result.Set("uid", Napi::Number::New(env, cred.uid));
  result.Set("gid", Napi::Number::New(env, cred.gid));
  return result;
}

// One wait for `events`, at most `slice_ms`: 0 when ready, EAGAIN when not yet, else the errno.
int WaitFor(int fd, short events, int slice_ms) {
  pollfd p = {fd, events, 0};
  int n;
  do {
    n = poll(&p, 1, slice_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  return n > 0 ? 0 : EAGAIN;  // readable, writable, or an error/hang-up the next call reports
}

// The parts both workers share: a duplicate of the descriptor, the slice, the failure.
// PromiseWorker (rule 1 of environment.h): no exception escapes the completion.
class FdWorker : public PromiseWorker {
 public:
  ~FdWorker() override {
    if (fd_ >= 0) close(fd_);
  }

 protected:
  FdWorker(Napi::Env env, const char* name, const char* syscall, int fd, int slice_ms)
      : PromiseWorker(env, name, syscall), fd_(fcntl(fd, F_DUPFD_CLOEXEC, 0)), slice_ms_(slice_ms) {
    if (fd_ < 0) throw ErrnoError(env, errno, "dup");
  }

  void Fail(int err, const char* syscall) {
    errno_ = err;
    failed_ = syscall;
  }

  // In Result(): a failed run rejects with its system error.
  void ThrowIfFailed(Napi::Env env) const {
    if (errno_ != 0) throw ErrnoError(env, errno_, failed_);
  }

  int fd_;
  int slice_ms_;

 private:
  int errno_ = 0;
  const char* failed_ = "";
};

// Sends what the socket takes within one slice: the descriptors go with the first byte,
// so a caller that got a partial count sends the rest without them. The descriptors to
// send are duplicated here, on the JavaScript thread: a number closed and reused while the
// work waits in the pool must not send another file.
class SendWorker : public FdWorker {
 public:
  SendWorker(Napi::Env env, int fd, Napi::Buffer<char> data, const std::vector<int>& fds, int slice_ms)
      : FdWorker(env, "sockctl:sendFds", "sendmsg", fd, slice_ms), data_(data.Data(), data.Data() + data.Length()) {
    for (int each : fds) {
      int copy = fcntl(each, F_DUPFD_CLOEXEC, 0);
      if (copy < 0) {
        int err = errno;
        CloseAll(fds_);
        fds_.clear();
        throw ErrnoError(env, err, "sendmsg");
      }
      fds_.push_back(copy);
    }
  }

  ~SendWorker() override { CloseAll(fds_); }

 private:
  void Run() override {
    int wait = WaitFor(fd_, POLLOUT, slice_ms_);
    if (wait == EAGAIN) return;  // 0 bytes: not writable yet
    if (wait != 0) return Fail(wait, "sendmsg");
    iovec iov = {data_.data(), data_.size()};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control;
    if (!fds_.empty()) {
      control.assign(CMSG_SPACE(sizeof(int) * fds_.size()), 0);
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds_.size());
      std::memcpy(CMSG_DATA(c), fds_.data(), sizeof(int) * fds_.size());
    }
    ssize_t sent;
    do {
      sent = sendmsg(fd_, &msg, sys::kSendFlags);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (sent < 0) return Fail(errno, "sendmsg");
    sent_ = static_cast<size_t>(sent);
  }

  Napi::Value Result(Napi::Env env) override {
    ThrowIfFailed(env);
    return Napi::Number::New(env, static_cast<double>(sent_));
  }

  std::vector<char> data_;
  std::vector<int> fds_;
  size_t sent_ = 0;
};

class RecvWorker : public FdWorker {
 public:
  RecvWorker(Napi::Env env, int fd, size_t max_bytes, int max_fds, int slice_ms)
      : FdWorker(env, "sockctl:recvFds", "recvmsg", fd, slice_ms), data_(max_bytes), max_fds_(max_fds) {}

  ~RecvWorker() override { CloseAll(fds_); }  // only what was never handed to JavaScript

 private:
  void Run() override {
    for (;;) {
      int wait = WaitFor(fd_, POLLIN, slice_ms_);
      if (wait == EAGAIN) return;  // nothing yet: resolves null
      if (wait != 0) return Fail(wait, "recvmsg");
      iovec iov = {data_.data(), data_.size()};
      // Room for max_fds: the kernel discards the rest and says MSG_CTRUNC.
      std::vector<char> control(max_fds_ > 0 ? CMSG_SPACE(sizeof(int) * max_fds_) : 0);
      msghdr msg = {};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.empty() ? nullptr : control.data();
      msg.msg_controllen = control.size();
      ssize_t got = recvmsg(fd_, &msg, sys::kReceiveFlags);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return Fail(errno, "recvmsg");
      }
      received_ = true;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char* p = CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
          int fd;
          std::memcpy(&fd, p + i * sizeof(int), sizeof fd);
          sys::ArrivedCloexec(fd);
          fds_.push_back(fd);
        }
      }
      // CMSG_SPACE rounds up to a multiple of 8 bytes: room for 1 is room for 2, so the
      // count is checked here too. More than asked for is a truncation, all of them closed.
      if ((msg.msg_flags & MSG_CTRUNC) != 0 || fds_.size() > static_cast<size_t>(max_fds_)) {
        truncated_ = static_cast<int>(fds_.size());
        CloseAll(fds_);
        fds_.clear();
      }
      data_.resize(static_cast<size_t>(got));
      return;
    }
  }

  Napi::Value Result(Napi::Env env) override {
    ThrowIfFailed(env);
    if (!received_) return env.Null();
    Napi::Object result = Napi::Object::New(env);
    result.Set("data", Napi::Buffer<char>::Copy(env, data_.data(), data_.size()));
    Napi::Array fds = Napi::Array::New(env, fds_.size());
    for (size_t i = 0; i < fds_.size(); i++) fds.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds_[i]));
    result.Set("fds", fds);
    // MSG_CTRUNC: how many had arrived (and were closed); -1 when not truncated.
    result.Set("truncated", Napi::Number::New(env, truncated_));
    // Rule 2: owned by this environment from here (closed at its end if JavaScript never
    // takes them); until here the destructor closes them on any failure.
    for (int fd : fds_) Own(env, fd);
    fds_.clear();
    return result;
  }

  std::vector<char> data_;
  int max_fds_;
  std::vector<int> fds_;
  int truncated_ = -1;
  bool received_ = false;
};

int SliceArg(const Napi::CallbackInfo& info, size_t index) {
  int slice = IntArg(info, index, "sliceMs");
  return slice < 0 ? 0 : slice > kMaxSliceMs ? kMaxSliceMs : slice;
}

// sendFds(fd, data, fds, sliceMs) -> Promise<bytes sent: 0 when not writable within the slice>
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
  return PromiseWorker::Start<SendWorker>(env, fd, data, fds, SliceArg(info, 3));
}

// recvFds(fd, maxBytes, maxFds, sliceMs) -> Promise<{ data, fds, truncated } | null when nothing came>
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  int max_bytes = IntArg(info, 1, "maxBytes");
  int max_fds = IntArg(info, 2, "maxFds");
  if (max_bytes < 1 || static_cast<size_t>(max_bytes) > kMaxBytes) throw ErrnoError(env, EMSGSIZE, "recvmsg");
  if (max_fds < 0 || max_fds > kMaxFds) throw ErrnoError(env, EINVAL, "recvmsg");
  return PromiseWorker::Start<RecvWorker>(env, fd, static_cast<size_t>(max_bytes), max_fds, SliceArg(info, 3));
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
