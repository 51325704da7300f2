// The supervisor's end of NOTIFY_SOCKET: sd_notify(3) datagrams and who sent them.
// unix(7) (SOCK_DGRAM, abstract names), socket(2), bind(2); the datagrams and their
// senders' credentials (SO_PASSCRED, SCM_CREDENTIALS: Linux only) through sys::ReceiveCredited;
// descriptors that come along are closed (a notifier's FDSTORE=1 is not supported). Read on
// the event loop by the loop watcher (watcher.h), which owns the socket: Node has no UNIX
// datagram socket, and a thread-pool wait would hold a pool thread for the supervisor's
// whole life. No C++ exception leaves a libuv callback or the cleanup hook.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "errors.h"
#include "init.h"
#include "owned_fd.h"
#include "sys/sys.h"
#include "watcher.h"

namespace sockctl {

namespace {

// systemd's NOTIFY_BUFFER_MAX: a longer message is dropped, as systemd drops it.
constexpr size_t kMessageMax = 4096;

// An abstract name ("@name") or a path, as NOTIFY_SOCKET spells it.
socklen_t MakeAddress(const std::string& name, sockaddr_un* address) {
  *address = {};
  address->sun_family = AF_UNIX;
  if (name.empty() || name.size() >= sizeof address->sun_path) return 0;
  std::memcpy(address->sun_path, name.data(), name.size());
  if (name[0] == '@') address->sun_path[0] = '\0';
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '@' ? 0 : 1));
}

class NotifyReceiver : public Napi::ObjectWrap<NotifyReceiver>, public WatchOwner {
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

    OwnedFd fd(sys::Socket(AF_UNIX, SOCK_DGRAM, 0));
    if (!fd.valid()) throw ErrnoError(env, errno, "socket");
    int passed = sys::PassCredentials(fd.get());  // ENOTSUP off Linux
    if (passed != 0) throw ErrnoError(env, passed, "setsockopt");
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) throw ErrnoError(env, errno, "bind");
    int error = 0;
    watch_ = LoopWatch::Open(env, std::move(fd), this, &error);
    if (watch_ == nullptr) throw ErrnoError(env, error, "uv_poll_init");
    if (!callback_.Init(env, info[1], "sockctl.NotifyReceiver")) error = ENOMEM;
    if (error == 0) error = watch_->Start(UV_READABLE);
    if (error != 0) {
      watch_->Close();
      throw ErrnoError(env, error, "uv_poll_start");
    }
    // An open receiver keeps its object alive, as an open handle does in Node: collected
    // while open, it would close under a sender with nobody told.
    Ref();
  }

  ~NotifyReceiver() override {
    if (watch_ != nullptr) watch_->Close();
  }

 private:
  void OnClosed(bool teardown) noexcept override {
    watch_ = nullptr;
    callback_.Release(teardown);
  }

  void OnReady(int status) noexcept override {
    // An error on the descriptor would wake a level-triggered poll at every turn of the loop.
    if (status < 0) {
      watch_->Stop();
      return;
    }
    // Bounded per wake-up, so that a flood cannot starve the loop; the rest comes next turn.
    for (int n = 0; n < 64; n++) {
      char data[kMessageMax + 1];
      sys::Credentials cred;
      bool credited = false;
      bool truncated = false;
      ssize_t got = sys::ReceiveCredited(watch_->fd(), data, sizeof data, &cred, &credited, &truncated);
      if (got < 0) return;  // -EAGAIN: drained (any other error: nothing to deliver)
      // Without credentials the sender cannot be told apart; too long: systemd drops it too.
      if (!credited || truncated || static_cast<size_t>(got) > kMessageMax) continue;
      if (!Deliver(cred, data, static_cast<size_t>(got)) || watch_ == nullptr) return;  // or the callback closed it
    }
  }

  // The plain C calls, not node-addon-api's wrappers: in an environment being torn down
  // (a worker's process.exit() inside this very callback) those would build an Error and
  // abort. False when JavaScript can no longer run here.
  bool Deliver(const sys::Credentials& cred, const char* data, size_t length) noexcept {
    napi_env env = watch_->env();
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
    napi_value argv[4];
    bool ok = napi_create_int32(env, cred.pid, &argv[0]) == napi_ok && napi_create_uint32(env, cred.uid, &argv[1]) == napi_ok &&
              napi_create_uint32(env, cred.gid, &argv[2]) == napi_ok &&
              napi_create_string_utf8(env, data, length, &argv[3]) == napi_ok &&
              callback_.Call(4, argv, true) == napi_ok;  // what the callback throws is an uncaught exception
    napi_close_handle_scope(env, scope);
    return ok;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (watch_ != nullptr) {
      Unref();
      watch_->Close();
    }
    return info.Env().Undefined();
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), watch_ == nullptr ? -1 : watch_->fd()); }

  LoopWatch* watch_ = nullptr;
  LoopCallback callback_;
};

}  // namespace

void InitNotifyReceiver(Napi::Env env, Napi::Object exports) {
  exports.Set("NotifyReceiver", NotifyReceiver::Define(env));
}

}  // namespace sockctl
