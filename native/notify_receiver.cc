// The supervisor's end of NOTIFY_SOCKET: sd_notify(3) datagrams and who sent them.
// unix(7) (SOCK_DGRAM, abstract names), socket(2), bind(2); the datagrams and their
// senders' credentials (SO_PASSCRED, SCM_CREDENTIALS: Linux only) through sys::ReceiveCredited;
// descriptors that come along are closed (a notifier's FDSTORE=1 is not supported). Read on the event loop through libuv's uv_poll
// (napi_get_uv_event_loop): Node has no UNIX datagram socket, and a thread-pool wait would
// hold a pool thread for the supervisor's whole life.
// No C++ exception leaves a libuv callback or the cleanup hook (worker_threads safety).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "errors.h"
#include "init.h"
#include "sys/sys.h"

namespace sockctl {

namespace {

// systemd's NOTIFY_BUFFER_MAX: a longer message is dropped, as systemd drops it.
constexpr size_t kMessageMax = 4096;

class NotifyReceiver;

// The libuv side; freed by uv_close's callback, never before (the handle must outlive it).
struct Receiver {
  uv_poll_t poll;
  int fd = -1;
  bool closing = false;
  NotifyReceiver* owner = nullptr;  // the JavaScript object, until one of the two goes
  napi_env env = nullptr;
  napi_ref callback = nullptr;
  napi_async_context context = nullptr;
  napi_async_cleanup_hook_handle cleanup = nullptr;
};

void OnClosed(uv_handle_t* handle) {
  auto* r = static_cast<Receiver*>(handle->data);
  if (r->fd >= 0) close(r->fd);
  napi_async_cleanup_hook_handle cleanup = r->cleanup;
  // Status ignored: nothing may throw or abort here, in an environment being torn down.
  // The async context is destroyed by close() only, never from here at teardown (a worker
  // ending), where the environment is going away and an id left undestroyed costs nothing.
  if (r->callback != nullptr) napi_delete_reference(r->env, r->callback);
  delete r;
  // Last: at environment teardown this lets Node finish.
  if (cleanup != nullptr) napi_remove_async_cleanup_hook(cleanup);
}

void StartClose(Receiver* r) {
  r->closing = true;
  uv_poll_stop(&r->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&r->poll), OnClosed);
}

void Disown(NotifyReceiver* owner);

// Environment teardown (a worker ending) with the receiver still open.
void OnCleanup(napi_async_cleanup_hook_handle handle, void* data) {
  auto* r = static_cast<Receiver*>(data);
  r->cleanup = handle;
  if (r->owner != nullptr) Disown(r->owner);
  r->owner = nullptr;
  StartClose(r);
}

// The plain C calls, not node-addon-api's wrappers: in an environment being torn down
// (a worker's process.exit() inside this very callback) those would build an Error and
// abort. Returns false when JavaScript can no longer run here.
bool Deliver(Receiver* r, const sys::Credentials& cred, const char* data, size_t length) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  napi_value callback, recv, argv[4];
  bool ok = napi_get_reference_value(env, r->callback, &callback) == napi_ok && callback != nullptr &&
            napi_get_global(env, &recv) == napi_ok && napi_create_int32(env, cred.pid, &argv[0]) == napi_ok &&
            napi_create_uint32(env, cred.uid, &argv[1]) == napi_ok && napi_create_uint32(env, cred.gid, &argv[2]) == napi_ok &&
            napi_create_string_utf8(env, data, length, &argv[3]) == napi_ok;
  if (ok) {
    napi_status status = napi_make_callback(env, r->context, recv, callback, 4, argv, nullptr);
    if (status == napi_pending_exception) {
      // The callback threw: an uncaught exception, as Node reports its own callbacks'.
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
    ok = status == napi_ok;
  }
  napi_close_handle_scope(env, scope);
  return ok;
}

void OnReadable(uv_poll_t* poll, int status, int /*events*/) {
  auto* r = static_cast<Receiver*>(poll->data);
  // An error on the descriptor would wake a level-triggered poll at every turn of the loop.
  if (status < 0) {
    uv_poll_stop(poll);
    return;
  }
  // Bounded per wake-up, so that a flood cannot starve the loop; the rest comes next turn.
  for (int n = 0; n < 64; n++) {
    char data[kMessageMax + 1];
    sys::Credentials cred;
    bool credited = false;
    bool truncated = false;
    ssize_t got = sys::ReceiveCredited(r->fd, data, sizeof data, &cred, &credited, &truncated);
    if (got < 0) return;  // -EAGAIN: drained (any other error: nothing to deliver)
    // Without credentials the sender cannot be told apart; too long: systemd drops it too.
    if (!credited || truncated || static_cast<size_t>(got) > kMessageMax) continue;
    if (!Deliver(r, cred, data, static_cast<size_t>(got)) || r->closing) return;  // or the callback closed it
  }
}

// An abstract name ("@name") or a path, as NOTIFY_SOCKET spells it.
socklen_t MakeAddress(const std::string& name, sockaddr_un* address) {
  *address = {};
  address->sun_family = AF_UNIX;
  if (name.empty() || name.size() >= sizeof address->sun_path) return 0;
  std::memcpy(address->sun_path, name.data(), name.size());
  if (name[0] == '@') address->sun_path[0] = '\0';
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '@' ? 0 : 1));
}

class NotifyReceiver : public Napi::ObjectWrap<NotifyReceiver> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NotifyReceiver",
                       {InstanceMethod("close", &NotifyReceiver::Close), InstanceAccessor("fd", &NotifyReceiver::Fd, nullptr)});
  }

  NotifyReceiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NotifyReceiver>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw ArgTypeError(env, "address", "of type string");
    if (info.Length() < 2 || !info[1].IsFunction()) throw ArgTypeError(env, "onMessage", "of type function");
    std::string name = info[0].As<Napi::String>().Utf8Value();
    sockaddr_un address;
    socklen_t length = MakeAddress(name, &address);
    if (length == 0 || name.find('\0') != std::string::npos) throw ErrnoError(env, EINVAL, "bind");

    int fd = sys::Socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) throw ErrnoError(env, errno, "socket");
    int passed = sys::PassCredentials(fd);  // ENOTSUP off Linux
    if (passed != 0) {
      close(fd);
      throw ErrnoError(env, passed, "setsockopt");
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      int err = errno;
      close(fd);
      throw ErrnoError(env, err, "bind");
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      close(fd);
      throw ErrnoError(env, ENOTSUP, "uv_poll_init");
    }
    auto* r = new Receiver();
    r->fd = fd;
    r->env = env;
    int err = uv_poll_init(loop, &r->poll, fd);
    if (err != 0) {
      close(fd);
      delete r;
      throw ErrnoError(env, -err, "uv_poll_init");
    }
    r->poll.data = r;
    napi_value resource_name = Napi::String::New(env, "sockctl.NotifyReceiver");
    if (napi_create_reference(env, info[1], 1, &r->callback) != napi_ok ||
        napi_async_init(env, nullptr, resource_name, &r->context) != napi_ok) {
      StartClose(r);  // frees r and closes fd once the handle is closed
      throw ErrnoError(env, ENOMEM, "napi_async_init");
    }
    r->owner = this;
    napi_add_async_cleanup_hook(env, OnCleanup, r, &r->cleanup);
    uv_poll_start(&r->poll, UV_READABLE, OnReadable);
    receiver_ = r;
    // An open receiver keeps its object alive, as an open handle does in Node: collected
    // while open, it would close under a sender with nobody told.
    Ref();
  }

  ~NotifyReceiver() override { Shut(false); }

  // The environment is closing the receiver itself.
  void Forget() { receiver_ = nullptr; }

 private:
  // Idempotent; the cleanup hook is removed here, since uv_close's callback frees it.
  void Shut(bool fromJavaScript) {
    Receiver* r = receiver_;
    if (r == nullptr) return;
    if (fromJavaScript && r->context != nullptr) napi_async_destroy(r->env, r->context);
    r->context = nullptr;
    receiver_ = nullptr;
    r->owner = nullptr;
    napi_async_cleanup_hook_handle cleanup = r->cleanup;
    r->cleanup = nullptr;
    if (cleanup != nullptr) napi_remove_async_cleanup_hook(cleanup);
    StartClose(r);  // the descriptor is closed once the handle is
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (receiver_ != nullptr) Unref();
    Shut(true);
    return info.Env().Undefined();
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), receiver_ == nullptr ? -1 : receiver_->fd);
  }

  Receiver* receiver_ = nullptr;
};

void Disown(NotifyReceiver* owner) { owner->Forget(); }

}  // namespace

void InitNotifyReceiver(Napi::Env env, Napi::Object exports) {
  exports.Set("NotifyReceiver", NotifyReceiver::Define(env));
}

}  // namespace sockctl
