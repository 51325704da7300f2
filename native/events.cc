// Event sources read on libuv's loop without a thread: a descriptor polled with uv_poll
// (epoll(7)), read non-blocking until EAGAIN (read(2), recv(2)), each batch handed to a
// JavaScript callback. Two kinds:
// - 'file': a tracefs trace_pipe (Documentation/trace/ftrace.rst), opened O_NONBLOCK; its
//   poll wakes as soon as the instance's buffer_percent (0) allows;
// - 'destroy': a NETLINK_SOCK_DIAG socket joined to the TCP destroy groups
//   (SKNLGRP_INET_TCP_DESTROY, SKNLGRP_INET6_TCP_DESTROY: sock_diag(7), netlink(7)), its
//   inet_diag_msg records converted to the rows of diag_row.h.
// The reader owns its descriptor: close() (or the environment's teardown, or GC) stops the
// poll and closes it once. No C++ exception leaves a libuv callback, a cleanup hook or the
// finalizer.
#include <cerrno>
#include <cstring>
#include <string>
#include <memory>
#include <vector>

#include <fcntl.h>
#include <uv.h>
#include <unistd.h>

#include "diag_row.h"
#include "errors.h"
#include "init.h"

#include <sys/socket.h>

#include "sys/sys.h"

namespace sockctl {

namespace {

constexpr size_t kReadBytes = 64 * 1024;
constexpr size_t kBatchBytes = 1024 * 1024;  // then the loop gets a turn

class EventReader : public Napi::ObjectWrap<EventReader> {
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
    if (info.Length() > 3 && info[3].IsString()) removeDir_ = info[3].As<Napi::String>().Utf8Value();
    if (removeDir_.find('\0') != std::string::npos) throw ErrnoError(env, EINVAL, "rmdir");
    if (kind == "file") {
      if (path.find('\0') != std::string::npos) throw ErrnoError(env, EINVAL, "open");
      do {
        fd_ = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      } while (fd_ < 0 && errno == EINTR);
      if (fd_ < 0) throw ErrnoError(env, errno, "open");
    } else if (kind == "destroy") {
      netlink_ = true;
      OpenDestroySocket(env);
    } else {
      throw ArgTypeError(env, "kind", "'file' or 'destroy'");
    }
    env_ = env;
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      CloseDescriptor();
      throw ErrnoError(env, EINVAL, "uv_poll_init");
    }
    poll_ = new uv_poll_t;
    int status = uv_poll_init(loop, poll_, fd_);
    if (status != 0) {
      delete poll_;
      poll_ = nullptr;
      CloseDescriptor();
      throw ErrnoError(env, -status, "uv_poll_init");
    }
    poll_->data = this;
    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "sockctl:EventReader");
    if (napi_add_env_cleanup_hook(env, Teardown, this) == napi_ok) hooked_ = true;
  }

  ~EventReader() override {
    // The finalizer: nothing may throw from here.
    try {
      Close();
    } catch (...) {
    }
  }

 private:
  void OpenDestroySocket(Napi::Env env) {
    const char* syscall = "socket";
    int fd = sys::OpenDestroyEvents(&syscall);
    if (fd < 0) throw ErrnoError(env, -fd, syscall);
    fd_ = fd;
  }

  static void Teardown(void* data) {
    auto* self = static_cast<EventReader*>(data);
    self->hooked_ = false;
    try {
      self->Close();
    } catch (...) {
    }
  }

  void CloseDescriptor() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  // Idempotent: the poll handle is freed by libuv's close callback, the descriptor now.
  void Close() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
      poll_ = nullptr;
    }
    CloseDescriptor();
    if (!removeDir_.empty()) {
      ::rmdir(removeDir_.c_str());  // errors ignored: gone already, or left for stale cleanup
      removeDir_.clear();
    }
    if (hooked_) {
      hooked_ = false;
      napi_remove_env_cleanup_hook(env_, Teardown, this);
    }
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (poll_ == nullptr) throw ErrnoError(info.Env(), EBADF, "uv_poll_start");
    int status = uv_poll_start(poll_, UV_READABLE, OnReadable);
    if (status != 0) throw ErrnoError(info.Env(), -status, "uv_poll_start");
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_poll_stop(poll_);
    return info.Env().Undefined();
  }

  // The poll no longer keeps the loop (and so the process) alive.
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value CloseMethod(const Napi::CallbackInfo& info) {
    Close();
    return info.Env().Undefined();
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  // Reads what is there now: trace_pipe text as bytes, or destroy messages as rows.
  // Returns 0, or a positive errno; `ended` when the file said EOF.
  int ReadBatch(std::vector<char>* bytes, std::vector<diag::DiagRow>* rows, bool* ended) {
    std::vector<uint64_t> storage(kReadBytes / sizeof(uint64_t));  // aligned for nlmsghdr
    char* buffer = reinterpret_cast<char*>(storage.data());
    size_t total = 0;
    while (total < kBatchBytes && fd_ >= 0) {
      ssize_t got;
      do {
        got = netlink_ ? recv(fd_, buffer, kReadBytes, 0) : read(fd_, buffer, kReadBytes);
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

  static void OnReadable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<EventReader*>(handle->data);
    if (self == nullptr) return;
    try {
      self->Deliver(status);
    } catch (...) {
      // JavaScript could not run (the environment is being torn down: its handles are
      // still polled before the cleanup hooks), or an allocation failed. No V8 call here,
      // outside any HandleScope; the poll stops so that a readable descriptor does not
      // fire again. (lib/states/watch.ts's callback catches its own errors.)
      if (self->poll_ != nullptr) uv_poll_stop(self->poll_);
    }
  }

  void Deliver(int status) {
    Napi::Env env(env_);
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
      return;  // woken for nothing
    }
    if (error != 0 || ended) uv_poll_stop(handle());
    callback_.MakeCallback(Value(), {first, second}, *context_);
  }

  uv_poll_t* handle() { return poll_; }

  int fd_ = -1;
  std::string removeDir_;
  bool netlink_ = false;
  bool hooked_ = false;
  napi_env env_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace

void InitEvents(Napi::Env env, Napi::Object exports) {
  exports.Set("EventReader", EventReader::Define(env));
}

}  // namespace sockctl
