// The loop watcher (watcher.h): uv_poll(3) on the environment's loop, poll(2)/epoll(7)
// readiness, getsockopt(2) SO_ERROR for a connect's outcome, napi_add_async_cleanup_hook(3).
#include "watcher.h"

#include <sys/socket.h>
#include <uv.h>

#include <cerrno>
#include <unordered_map>

#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

// One pending wait: the poll handle, the callback, and the env's teardown hook.
struct Pending {
  uv_poll_t poll;
  napi_env env = nullptr;
  int fd = -1;
  bool readSoError = false;
  napi_ref callback = nullptr;
  napi_async_context context = nullptr;
  napi_async_cleanup_hook_handle hook = nullptr;
  bool closing = false;
};

// Per thread, so per env (a worker has its own thread): pending waits by descriptor.
thread_local std::unordered_map<int, Pending*> pending;

void OnClosed(uv_handle_t* handle) {
  auto* p = static_cast<Pending*>(handle->data);
  if (p->callback != nullptr) napi_delete_reference(p->env, p->callback);
  if (p->context != nullptr) napi_async_destroy(p->env, p->context);
  // Last: during teardown this lets Node finish with the env.
  if (p->hook != nullptr) napi_remove_async_cleanup_hook(p->hook);
  delete p;
}

// The one teardown: stops watching (epoll forgets the descriptor before anyone else adopts
// it) and frees once libuv has closed the handle.
void Release(Pending* p) {
  if (p->closing) return;
  p->closing = true;
  auto found = pending.find(p->fd);
  if (found != pending.end() && found->second == p) pending.erase(found);
  uv_poll_stop(&p->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->poll), OnClosed);
}

// The env ends (worker terminated, process exit) with the wait still pending.
void OnTeardown(napi_async_cleanup_hook_handle, void* arg) { Release(static_cast<Pending*>(arg)); }

void OnReady(uv_poll_t* handle, int status, int) {
  auto* p = static_cast<Pending*>(handle->data);
  if (p->closing) return;
  // libuv reports POLLERR (a refused or failed connect) as UV_EBADF: SO_ERROR says what it was.
  int err = 0;
  if (p->readSoError) {
    socklen_t length = sizeof err;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &length) != 0) err = errno;
  }
  if (err == 0 && status < 0) err = -status;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    Release(p);
    return;
  }
  napi_value fn = nullptr;
  napi_value resource = nullptr;
  napi_value argument = nullptr;
  bool ready = napi_get_reference_value(env, p->callback, &fn) == napi_ok && fn != nullptr &&
               napi_get_global(env, &resource) == napi_ok && napi_create_int32(env, err, &argument) == napi_ok;
  napi_async_context context = p->context;  // destroyed by OnClosed, on a later turn of the loop
  Release(p);  // before the callback: it may hand the descriptor on, or wait on it again
  if (ready) {
    napi_value result;
    // The callbacks are the library's own and settle a promise, which does not throw: what
    // can be pending here is a terminating env's exception, which must not be raised again.
    if (napi_make_callback(env, context, resource, fn, 1, &argument, &result) == napi_pending_exception) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  napi_close_handle_scope(env, scope);
}

}  // namespace

void StartWait(Napi::Env env, int fd, int events, bool readSoError, Napi::Value callback, const char* syscall) {
  if (pending.count(fd) != 0) throw ErrnoError(env, EALREADY, syscall);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) throw ErrnoError(env, ENOTSUP, syscall);
  int uvEvents = ((events & kWaitReadable) != 0 ? UV_READABLE : 0) | ((events & kWaitWritable) != 0 ? UV_WRITABLE : 0);
  if (uvEvents == 0) throw ErrnoError(env, EINVAL, syscall);

  auto* p = new Pending();
  p->env = env;
  p->fd = fd;
  p->readSoError = readSoError;
  int err = uv_poll_init_socket(loop, &p->poll, fd);
  if (err != 0) {
    delete p;
    throw ErrnoError(env, -err, syscall);
  }
  p->poll.data = p;
  napi_value name = Napi::String::New(env, "sockctl.wait");
  if (napi_create_reference(env, callback, 1, &p->callback) != napi_ok ||
      napi_async_init(env, nullptr, name, &p->context) != napi_ok ||
      napi_add_async_cleanup_hook(env, OnTeardown, p, &p->hook) != napi_ok ||
      (err = uv_poll_start(&p->poll, uvEvents, OnReady)) != 0) {
    Release(p);
    throw ErrnoError(env, err != 0 ? -err : ENOMEM, syscall);
  }
  pending[fd] = p;
}

bool CancelWait(int fd) noexcept {
  auto found = pending.find(fd);
  if (found == pending.end()) return false;
  Release(found->second);
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
