// send(2) on a non-blocking socket, as much as the kernel takes now: the lab uses it to
// fill a send queue to the byte, which a net.Socket (with its own userland buffer) cannot.
// sys::kSendFlags (MSG_NOSIGNAL on Linux): a shut-down socket gives EPIPE, not SIGPIPE.
#include <sys/socket.h>

#include <cerrno>

#include "errors.h"
#include "init.h"
#include "sys/sys.h"

namespace sockctl {

namespace {

Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  // A TypedArray (Buffer is one); a DataView or anything else is Node's TypeError, not
  // napi_get_buffer_info's uncoded "Invalid argument".
  if (info.Length() < 2 || !info[1].IsTypedArray()) throw ArgTypeError(env, "data", "an instance of Buffer or TypedArray");
  Napi::TypedArray data = info[1].As<Napi::TypedArray>();
  const char* bytes = static_cast<const char*>(data.ArrayBuffer().Data());
  size_t length = data.ByteLength();
  if (bytes == nullptr) length = 0;  // a detached buffer
  else bytes += data.ByteOffset();
  ssize_t sent;
  do {
    sent = send(fd, bytes, length, sys::kSendFlags);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) sent = 0;
  if (sent < 0) throw ErrnoError(env, errno, "send");
  return Napi::Number::New(env, static_cast<double>(sent));
}

}  // namespace

void InitSend(Napi::Env env, Napi::Object exports) {
  exports.Set("send", Napi::Function::New(env, Send, "send"));
}

}  // namespace sockctl
