// The loop watcher (watcher.h): uv_poll(3) on the environment's loop, poll(2)/epoll(7)
// readiness, getsockopt(2) SO_ERROR for a connect's outcome, napi_add_async_cleanup_hook(3),
// napi_make_callback(3).
#include "watcher.h"

#include <sys/socket.h>

#include <cerrno>
#include <unordered_map>

#include "errors.h"
#include "init.h"

namespace sockctl {

LoopWatch* LoopWatch::Open(napi_env env, OwnedFd fd, WatchOwner* owner, int* error) noexcept {
  LoopWatch* watch = Make(env, fd.get(), true, owner, error);
  if (watch != nullptr) fd.Release();  // the watch closes it now
  return watch;
}

LoopWatch* LoopWatch::Borrow(napi_env env, int fd, WatchOwner* owner, int* error) noexcept {
  return Make(env, fd, false, owner, error);
}

LoopWatch* LoopWatch::Make(napi_env env, int fd, bool owned, WatchOwner* owner, int* error) noexcept {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    *error = ENOTSUP;
    return nullptr;
  }
  auto* watch = new (std::nothrow) LoopWatch();
  if (watch == nullptr) {
    *error = ENOMEM;
    return nullptr;
  }
  int status = uv_poll_init(loop, &watch->poll_, fd);
  if (status != 0) {
    delete watch;
    *error = -status;
    return nullptr;
  }
  watch->poll_.data = watch;
  watch->env_ = env;
  watch->fd_ = fd;
  watch->owned_ = owned;
  watch->owner_ = owner;
  if (napi_add_async_cleanup_hook(env, OnTeardown, watch, &watch->hook_) != napi_ok) {
    watch->owner_ = nullptr;
    watch->owned_ = false;  // the caller's OwnedFd still closes it
    watch->Close(false);
    *error = ENOMEM;
    return nullptr;
  }
  return watch;
}

int LoopWatch::Start(int uvEvents) noexcept {
  if (closing_) return EBADF;
  int status = uv_poll_start(&poll_, uvEvents, OnPoll);
  return status == 0 ? 0 : -status;
}

void LoopWatch::Stop() noexcept {
  if (!closing_) uv_poll_stop(&poll_);
}

void LoopWatch::Unref() noexcept {
  if (!closing_) uv_unref(reinterpret_cast<uv_handle_t*>(&poll_));
}

void LoopWatch::Close(bool teardown) noexcept {
  if (closing_) return;
  closing_ = true;
  // uv_close stops the poll at once (epoll forgets the number) and frees later: only then
  // may the number be closed, so that no new file that gets it is unwatched by mistake.
  uv_poll_stop(&poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnHandleClosed);
  if (owned_) ::close(fd_);
  WatchOwner* owner = owner_;
  owner_ = nullptr;
  if (owner != nullptr) owner->OnClosed(teardown);
}

void LoopWatch::OnPoll(uv_poll_t* handle, int status, int) {
  auto* watch = static_cast<LoopWatch*>(handle->data);
  if (!watch->closing_ && watch->owner_ != nullptr) watch->owner_->OnReady(status);
}

// The environment ends (a worker terminated, the process exiting) with the watch open.
void LoopWatch::OnTeardown(napi_async_cleanup_hook_handle, void* arg) { static_cast<LoopWatch*>(arg)->Close(true); }

void LoopWatch::OnHandleClosed(uv_handle_t* handle) {
  auto* watch = static_cast<LoopWatch*>(handle->data);
  napi_async_cleanup_hook_handle hook = watch->hook_;
  delete watch;
  // Last: at the environment's end this lets Node finish with it.
  if (hook != nullptr) napi_remove_async_cleanup_hook(hook);
}

bool LoopCallback::Init(napi_env env, napi_value fn, const char* resourceName) noexcept {
  env_ = env;
  napi_value name;
  if (napi_create_string_utf8(env, resourceName, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_reference(env, fn, 1, &fn_) != napi_ok || napi_async_init(env, nullptr, name, &context_) != napi_ok) {
    Release(false);
    return false;
  }
  return true;
}

napi_status LoopCallback::Call(size_t argc, const napi_value* argv, bool report) noexcept {
  napi_value fn = nullptr;
  napi_value self = nullptr;
  if (fn_ == nullptr || napi_get_reference_value(env_, fn_, &fn) != napi_ok || fn == nullptr ||
      napi_get_global(env_, &self) != napi_ok) {
    return napi_generic_failure;
  }
  napi_status status = napi_make_callback(env_, context_, self, fn, argc, argv, nullptr);
  if (status == napi_pending_exception) {
    napi_value error;
    if (napi_get_and_clear_last_exception(env_, &error) == napi_ok && report) napi_fatal_exception(env_, error);
  }
  return status;
}

void LoopCallback::Release(bool teardown) noexcept {
  if (fn_ != nullptr) napi_delete_reference(env_, fn_);
  if (context_ != nullptr && !teardown) napi_async_destroy(env_, context_);
  fn_ = nullptr;
  context_ = nullptr;
}

namespace {

class Wait;

// Per thread, so per environment (a worker has its own thread): pending waits by descriptor.
thread_local std::unordered_map<int, Wait*> pending;

// One pending wait: a borrowed descriptor's watch, freed when it closes.
class Wait final : public WatchOwner {
 public:
  Wait(int fd, bool readSoError) : fd_(fd), readSoError_(readSoError) {}

  LoopWatch* watch = nullptr;
  LoopCallback callback;

  void OnReady(int status) noexcept override {
    // libuv reports POLLERR (a refused or failed connect) as UV_EBADF: SO_ERROR says what it was.
    int err = 0;
    if (readSoError_) {
      socklen_t length = sizeof err;
      if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &length) != 0) err = errno;
    }
    if (err == 0 && status < 0) err = -status;
    napi_env env = watch->env();
    LoopCallback fire = callback;
    callback = LoopCallback();
    // Closed before the callback runs (this is freed): it may hand the descriptor on, or wait on it again.
    watch->Close();
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) {
      fire.Release(false);
      return;
    }
    napi_value argument;
    // The callbacks are the library's own and settle a promise, which does not throw: what
    // can be pending here is a terminating environment's exception, not to be raised again.
    if (napi_create_int32(env, err, &argument) == napi_ok) fire.Call(1, &argument, false);
    napi_close_handle_scope(env, scope);
    fire.Release(false);
  }

  void OnClosed(bool teardown) noexcept override {
    auto found = pending.find(fd_);
    if (found != pending.end() && found->second == this) pending.erase(found);
    callback.Release(teardown);
    delete this;
  }

 private:
  int fd_;
  bool readSoError_;
};

}  // namespace

void StartWait(Napi::Env env, int fd, int events, bool readSoError, Napi::Value callback, const char* syscall) {
  if (pending.count(fd) != 0) throw ErrnoError(env, EALREADY, syscall);
  int uvEvents = ((events & kWaitReadable) != 0 ? UV_READABLE : 0) | ((events & kWaitWritable) != 0 ? UV_WRITABLE : 0);
  if (uvEvents == 0) throw ErrnoError(env, EINVAL, syscall);
  auto* wait = new Wait(fd, readSoError);
  int error = 0;
  wait->watch = LoopWatch::Borrow(env, fd, wait, &error);
  if (wait->watch == nullptr) {
    delete wait;
    throw ErrnoError(env, error, syscall);
  }
  if (!wait->callback.Init(env, callback, "sockctl.wait")) error = ENOMEM;
  if (error == 0) error = wait->watch->Start(uvEvents);
  if (error != 0) {
    wait->watch->Close();  // frees the wait
    throw ErrnoError(env, error, syscall);
  }
  pending[fd] = wait;
}

bool CancelWait(int fd) noexcept {
  auto found = pending.find(fd);
  if (found == pending.end()) return false;
  found->second->watch->Close();
  return true;
}

}  // namespace sockctl

namespace sockctl {

namespace {

// waitFd(fd, events, callback): callback(errno) once fd is readable (1) and/or writable (2):
// 0, or the poll's error. EALREADY while another wait on fd is pending.
Napi::Value WaitFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  int events = IntArg(info, 1, "events");
  if (info.Length() < 3 || !info[2].IsFunction()) throw ArgTypeError(env, "callback", "of type function");
  if (events < 1 || events > (kWaitReadable | kWaitWritable)) throw ErrnoError(env, EINVAL, "poll");
  StartWait(env, fd, events, false, info[2], "poll");
  return env.Undefined();
}

// waitFdCancel(fd): forgets the pending wait (its callback never runs); true if there was one.
Napi::Value WaitFdCancel(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), CancelWait(FdArg(info, 0)));
}

}  // namespace

void InitWatcher(Napi::Env env, Napi::Object exports) {
  exports.Set("waitFd", Napi::Function::New(env, WaitFd, "waitFd"));
  exports.Set("waitFdCancel", Napi::Function::New(env, WaitFdCancel, "waitFdCancel"));
}

}  // namespace sockctl
