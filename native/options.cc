// Socket options by level and name: setsockopt(2), getsockopt(2), socket(7), tcp(7), ipv6(7).
// Integer and flag options share one pair of calls; SO_LINGER has its own struct.
// Which names exist on this platform is decided in constants.cc, not here.
#include <sys/socket.h>

#include <cerrno>

#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

Napi::Value SetIntOption(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int level = IntArg(info, 1, "level");
  int name = IntArg(info, 2, "name");
  int value = IntArg(info, 3, "value");
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) throw ErrnoError(info.Env(), errno, "setsockopt");
  return info.Env().Undefined();
}

Napi::Value GetIntOption(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int level = IntArg(info, 1, "level");
  int name = IntArg(info, 2, "name");
  int value = 0;
  socklen_t length = sizeof value;
  if (getsockopt(fd, level, name, &value, &length) != 0) throw ErrnoError(info.Env(), errno, "getsockopt");
  return Napi::Number::New(info.Env(), value);
}

Napi::Value SetLinger(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  struct linger value = {};
  value.l_onoff = IntArg(info, 1, "onoff");
  value.l_linger = IntArg(info, 2, "linger");
  if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, sizeof value) != 0) {
    throw ErrnoError(info.Env(), errno, "setsockopt");
  }
  return info.Env().Undefined();
}

Napi::Value GetLinger(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  struct linger value = {};
  socklen_t length = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &value, &length) != 0) throw ErrnoError(env, errno, "getsockopt");
  Napi::Object result = Napi::Object::New(env);
  result.Set("onoff", Napi::Boolean::New(env, value.l_onoff != 0));
  result.Set("linger", Napi::Number::New(env, value.l_linger));
  return result;
}

}  // namespace

void InitOptions(Napi::Env env, Napi::Object exports) {
  exports.Set("setIntOption", Napi::Function::New(env, SetIntOption, "setIntOption"));
  exports.Set("getIntOption", Napi::Function::New(env, GetIntOption, "getIntOption"));
  exports.Set("setLinger", Napi::Function::New(env, SetLinger, "setLinger"));
  exports.Set("getLinger", Napi::Function::New(env, GetLinger, "getLinger"));
}

}  // namespace sockctl
