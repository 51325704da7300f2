// A client's non-blocking connect: connect(2) (EINPROGRESS), getaddrinfo(3)
// (AI_NUMERICHOST only: names are resolved in TypeScript, as Node's connect does),
// getsockopt(2) SO_ERROR read at completion (socket(7)), tcp(7); libuv's uv_poll_t waits
// for writability on the env's own loop, so the event loop never blocks.
// The descriptor stays the caller's (lib/connect/), which closes it on every failure.
// No C++ exception can leave a libuv callback or a cleanup hook: those use the C API.
#include <netdb.h>
#include <sys/socket.h>
#include <uv.h>

#include <cerrno>
#include <string>
#include <unordered_map>

#include "addrinfo.h"
#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

// connect(fd, address, port): true when connected at once, false while in progress.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (info.Length() < 2 || !info[1].IsString()) throw ArgTypeError(env, "address", "of type string");
  std::string address = info[1].As<Napi::String>().Utf8Value();
  if (address.find('\0') != std::string::npos) throw ErrnoError(env, EINVAL, "connect");
  int port = IntArg(info, 2, "port");
  if (port < 0 || port > 65535) throw ErrnoError(env, EINVAL, "connect");

  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  AddrInfoList list;
  std::string service = std::to_string(port);
  if (getaddrinfo(address.c_str(), service.c_str(), &hints, &list.head) != 0 || list.head == nullptr) {
    throw ErrnoError(env, EINVAL, "connect");
  }
  if (connect(fd, list.head->ai_addr, list.head->ai_addrlen) == 0) return Napi::Boolean::New(env, true);
  // EINTR on a non-blocking connect: the handshake goes on without us, as EINPROGRESS.
  if (errno == EINPROGRESS || errno == EINTR) return Napi::Boolean::New(env, false);
  throw ErrnoError(env, errno, "connect");
}

// One pending completion: the poll handle, the callback, and the env's teardown hook.
struct Pending {
  uv_poll_t poll;
  napi_env env = nullptr;
  int fd = -1;
  napi_ref callback = nullptr;
  napi_async_context context = nullptr;
  napi_async_cleanup_hook_handle hook = nullptr;
  bool closing = false;
};

// Per thread, so per env (a worker has its own thread): pending completions by descriptor.
thread_local std::unordered_map<int, Pending*> pending;

void OnClosed(uv_handle_t* handle) {
  auto* p = static_cast<Pending*>(handle->data);
  if (p->callback != nullptr) napi_delete_reference(p->env, p->callback);
  if (p->context != nullptr) napi_async_destroy(p->env, p->context);
  // Last: during teardown this lets Node finish with the env.
  if (p->hook != nullptr) napi_remove_async_cleanup_hook(p->hook);
  delete p;
}

// Stops watching (epoll forgets the descriptor before anyone else adopts it) and frees later.
void Release(Pending* p) {
  if (p->closing) return;
  p->closing = true;
  auto found = pending.find(p->fd);
  if (found != pending.end() && found->second == p) pending.erase(found);
  uv_poll_stop(&p->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->poll), OnClosed);
}

// The env ends (worker terminated, process exit) with the connect still pending.
void OnTeardown(napi_async_cleanup_hook_handle, void* arg) {
  Release(static_cast<Pending*>(arg));
}

void OnWritable(uv_poll_t* handle, int status, int) {
  auto* p = static_cast<Pending*>(handle->data);
  if (p->closing) return;
  // libuv reports POLLERR (a refused or failed connect) as UV_EBADF: SO_ERROR says what it was.
  int err = 0;
  socklen_t length = sizeof err;
  if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &length) != 0) err = errno;
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
  napi_async_context context = p->context;
  Release(p);  // before the callback: it hands the descriptor to a net.Socket's own handle
  if (ready) {
    napi_value result;
    // The callback is lib/connect's own and settles a promise, which does not throw: what
    // can be pending here is a terminating env's exception, which must not be raised again.
    if (napi_make_callback(env, context, resource, fn, 1, &argument, &result) == napi_pending_exception) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  napi_close_handle_scope(env, scope);
}

// connectWait(fd, callback): calls callback(errno) once the connect completes (0: connected).
Napi::Value ConnectWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (info.Length() < 2 || !info[1].IsFunction()) throw ArgTypeError(env, "callback", "of type function");
  if (pending.count(fd) != 0) throw ErrnoError(env, EALREADY, "connect");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) throw ErrnoError(env, ENOTSUP, "connect");

  auto* p = new Pending();
  p->env = env;
  p->fd = fd;
  int err = uv_poll_init_socket(loop, &p->poll, fd);
  if (err != 0) {
    delete p;
    throw ErrnoError(env, -err, "connect");
  }
  p->poll.data = p;
  napi_value name = Napi::String::New(env, "sockctl.connect");
  if (napi_create_reference(env, info[1], 1, &p->callback) != napi_ok ||
      napi_async_init(env, nullptr, name, &p->context) != napi_ok ||
      napi_add_async_cleanup_hook(env, OnTeardown, p, &p->hook) != napi_ok ||
      (err = uv_poll_start(&p->poll, UV_WRITABLE, OnWritable)) != 0) {
    Release(p);
    throw ErrnoError(env, err != 0 ? -err : ENOMEM, "connect");
  }
  pending[fd] = p;
  return env.Undefined();
}

// connectCancel(fd): forgets the pending completion (its callback never runs); true if there was one.
Napi::Value ConnectCancel(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  auto found = pending.find(fd);
  if (found == pending.end()) return Napi::Boolean::New(info.Env(), false);
  Release(found->second);
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace

void InitConnect(Napi::Env env, Napi::Object exports) {
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
  exports.Set("connectWait", Napi::Function::New(env, ConnectWait, "connectWait"));
  exports.Set("connectCancel", Napi::Function::New(env, ConnectCancel, "connectCancel"));
}

}  // namespace sockctl
