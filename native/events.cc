// Event sources read on libuv's loop without a thread: a descriptor watched by the loop
// watcher (watcher.h), read non-blocking until EAGAIN (read(2), recv(2)), each batch handed
// to a JavaScript callback. Two kinds:
// - 'file': a tracefs trace_pipe (Documentation/trace/ftrace.rst), opened O_NONBLOCK; its
//   poll wakes as soon as the instance's buffer_percent (0) allows;
// - 'destroy': a NETLINK_SOCK_DIAG socket joined to the TCP destroy groups
//   (SKNLGRP_INET_TCP_DESTROY, SKNLGRP_INET6_TCP_DESTROY: sock_diag(7), netlink(7)), its
//   inet_diag_msg records converted to the rows of diag_row.h.
// The reader's watch owns the descriptor: close(), the environment's end or GC closes it
// once, by the watch's one teardown. No C++ exception leaves a libuv callback or the finalizer.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "diag_row.h"
#include "errors.h"
#include "init.h"
#include "owned_fd.h"
#include "watcher.h"

#include <sys/socket.h>

#include "sys/sys.h"

namespace sockctl {

namespace {

constexpr size_t kReadBytes = 64 * 1024;
constexpr size_t kBatchBytes = 1024 * 1024;  // then the loop gets a turn

class EventReader : public Napi::ObjectWrap<EventReader>, public WatchOwner {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "EventReader",
                       {InstanceMethod<&EventReader::Start>("start"), InstanceMethod<&EventReader::Stop>("stop"),
                        InstanceMethod<&EventReader::CloseMethod>("close"), InstanceMethod<&EventReader::Unref>("unref"),
                        InstanceAccessor<&EventReader::Fd>("fd")});
  }

  // (kind: 'file' | 'destroy', path: string, callback(error, data), removeDir?: string):
  // removeDir, a directory rmdir(2)'d once the descriptor is closed (a tracefs instance,
  // which cannot go while its pipe is open), also when the environment tears down (a
  // worker's end, where no 'exit' event runs).
  explicit EventReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EventReader>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw ArgTypeError(env, "kind", "of type string");
    if (info.Length() < 2 || !info[1].IsString()) throw ArgTypeError(env, "path", "of type string");
    if (info.Length() < 3 || !info[2].IsFunction()) throw ArgTypeError(env, "callback", "of type function");
    std::string kind = info[0].As<Napi::String>().Utf8Value();
    std::string path = info[1].As<Napi::String>().Utf8Value();
    std::string removeDir = info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
    if (removeDir.find('\0') != std::string::npos) throw ErrnoError(env, EINVAL, "rmdir");
    OwnedFd fd;
    if (kind == "file") {
      if (path.find('\0') != std::string::npos) throw ErrnoError(env, EINVAL, "open");
      int opened;
      do {
        opened = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      } while (opened < 0 && errno == EINTR);
      if (opened < 0) throw ErrnoError(env, errno, "open");
      fd.Reset(opened);
    } else if (kind == "destroy") {
      netlink_ = true;
      const char* syscall = "socket";
      int opened = sys::OpenDestroyEvents(&syscall);
      if (opened < 0) throw ErrnoError(env, -opened, syscall);
      fd.Reset(opened);
    } else {
      throw ArgTypeError(env, "kind", "'file' or 'destroy'");
    }
    int error = 0;
    watch_ = LoopWatch::Open(env, std::move(fd), this, &error);
    if (watch_ == nullptr) throw ErrnoError(env, error, "uv_poll_init");
    removeDir_ = removeDir;  // from here on, the watch's closing removes it
    if (!callback_.Init(env, info[2], "sockctl:EventReader")) {
      watch_->Close();
      throw ErrnoError(env, ENOMEM, "napi_async_init");
    }
  }

  ~EventReader() override {
    if (watch_ != nullptr) watch_->Close();
  }

 private:
  // The watch closed (close(), the environment's end, GC): its descriptor is closed now.
  void OnClosed(bool teardown) noexcept override {
    watch_ = nullptr;
    callback_.Release(teardown);
    if (!removeDir_.empty()) ::rmdir(removeDir_.c_str());  // errors ignored: gone already, or left for stale cleanup
    removeDir_.clear();
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (watch_ == nullptr) throw ErrnoError(info.Env(), EBADF, "uv_poll_start");
    int error = watch_->Start(UV_READABLE);
    if (error != 0) throw ErrnoError(info.Env(), error, "uv_poll_start");
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (watch_ != nullptr) watch_->Stop();
    return info.Env().Undefined();
  }

  // The watch no longer keeps the loop (and so the process) alive.
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (watch_ != nullptr) watch_->Unref();
    return info.Env().Undefined();
  }

  Napi::Value CloseMethod(const Napi::CallbackInfo& info) {
    if (watch_ != nullptr) watch_->Close();
    return info.Env().Undefined();
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), watch_ == nullptr ? -1 : watch_->fd()); }

  // Reads what is there now: trace_pipe text as bytes, or destroy messages as rows.
  // Returns 0, or a positive errno; `ended` when the file said EOF.
  int ReadBatch(std::vector<char>* bytes, std::vector<diag::DiagRow>* rows, bool* ended) {
    std::vector<uint64_t> storage(kReadBytes / sizeof(uint64_t));  // aligned for nlmsghdr
    char* buffer = reinterpret_cast<char*>(storage.data());
    int fd = watch_->fd();
    size_t total = 0;
    while (total < kBatchBytes) {
      ssize_t got;
      do {
        got = netlink_ ? recv(fd, buffer, kReadBytes, 0) : read(fd, buffer, kReadBytes);
      } while (got < 0 && errno == EINTR);
      if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno;
      if (got == 0) {
        if (!netlink_) *ended = true;
        return 0;
      }
      total += static_cast<size_t>(got);
      if (!netlink_) {
        bytes->insert(bytes->end(), buffer, buffer + got);
        continue;
      }
      sys::DestroyEventRows(buffer, static_cast<size_t>(got), rows);
    }
    return 0;
  }

  void OnReady(int status) noexcept override {
    try {
      if (!Deliver(status) && watch_ != nullptr) watch_->Stop();
    } catch (...) {
      // JavaScript could not run (the environment is being torn down: its handles are
      // still polled before the cleanup hooks), or an allocation failed. The watch stops,
      // so that a readable descriptor does not fire again.
      if (watch_ != nullptr) watch_->Stop();
    }
  }

  // False when the reader should stop: an error or the end was delivered, or the callback
  // did not return normally (lib/states/sources/tracepoint.ts's callback catches its own errors).
  bool Deliver(int status) {
    Napi::Env env(watch_->env());
    Napi::HandleScope scope(env);
    std::vector<char> bytes;
    std::vector<diag::DiagRow> rows;
    bool ended = false;
    int error = status < 0 ? -status : ReadBatch(&bytes, &rows, &ended);
    if (error == ENOBUFS && netlink_) error = 0;  // the socket's buffer overflowed: events were lost, the poll source looks again
    Napi::Value first = env.Null();
    Napi::Value second = env.Null();
    if (error != 0) {
      first = ErrnoError(env, error, netlink_ ? "recv" : "read").Value();
    } else if (netlink_) {
      Napi::ArrayBuffer data = Napi::ArrayBuffer::New(env, rows.size() * sizeof(diag::DiagRow));
      if (!rows.empty()) std::memcpy(data.Data(), rows.data(), rows.size() * sizeof(diag::DiagRow));
      second = data;
    } else if (!bytes.empty()) {
      second = Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
    } else if (!ended) {
      return true;  // woken for nothing
    }
    bool more = error == 0 && !ended;
    if (!more) watch_->Stop();
    napi_value argv[2] = {first, second};
    return callback_.Call(2, argv, false) == napi_ok && more;
  }

  LoopWatch* watch_ = nullptr;
  std::string removeDir_;
  bool netlink_ = false;
  LoopCallback callback_;
};

}  // namespace

void InitEvents(Napi::Env env, Napi::Object exports) {
  exports.Set("EventReader", EventReader::Define(env));
}

}  // namespace sockctl
