// Node-style system errors: errno(3), strerror(3) is deliberately not used (Node's
// messages carry the code, not the text).
#include "errors.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "environment.h"

namespace sockctl {

namespace {

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) throw ArgTypeError(env, "factory", "of type function");
  ErrorFactoryOf(env) = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

}  // namespace

Napi::TypeError ArgTypeError(Napi::Env env, const char* name, const char* expected) {
  std::string message = std::string("The \"") + name + "\" argument must be " + expected;
  Napi::TypeError e = Napi::TypeError::New(env, message);
  e.Set("code", "ERR_INVALID_ARG_TYPE");
  return e;
}

void InitErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  Napi::FunctionReference& factory = ErrorFactoryOf(env);
  if (factory.IsEmpty()) {
    // Only reachable by loading the .node file without lib/core/binding.ts.
    Napi::Error e = Napi::Error::New(env, std::string(syscall) + " errno " + std::to_string(err));
    e.Set("errno", Napi::Number::New(env, -err));
    e.Set("syscall", syscall);
    return e;
  }
  Napi::Value error = factory.Call({Napi::Number::New(env, err), Napi::String::New(env, syscall)});
  return Napi::Error(env, error);
}

int FdArg(const Napi::CallbackInfo& info, size_t index) {
  int fd = IntArg(info, index, "fd");
  if (fd < 0) {
    Napi::RangeError e = Napi::RangeError::New(info.Env(), "The value of \"fd\" is out of range. It must be >= 0");
    e.Set("code", "ERR_OUT_OF_RANGE");
    throw e;
  }
  return fd;
}

int IntArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  // As a double: napi_get_value_int32 would turn NaN into 0 and wrap 2**32 + 3 into 3.
  double value = 0;
  if (napi_get_value_double(info.Env(), info[index], &value) != napi_ok) throw ArgTypeError(info.Env(), name, "of type number");
  if (!(value >= INT32_MIN && value <= INT32_MAX) || std::trunc(value) != value) {
    std::string message = std::string("The value of \"") + name + "\" is out of range. It must be a 32-bit integer";
    Napi::RangeError e = Napi::RangeError::New(info.Env(), message);
    e.Set("code", "ERR_OUT_OF_RANGE");
    throw e;
  }
  return static_cast<int>(value);
}

Napi::Buffer<char> BufferArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  // napi_is_buffer says true for a DataView (Node 20), whose bytes Napi::Buffer reads as a
  // typed array's, and refuses with an uncoded "Invalid argument": a typed array only.
  if (info.Length() <= index || !info[index].IsBuffer() || !info[index].IsTypedArray()) {
    throw ArgTypeError(info.Env(), name, "an instance of Buffer");
  }
  return info[index].As<Napi::Buffer<char>>();
}

uint16_t PortArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  int port = IntArg(info, index, name);
  if (port < 0 || port > 65535) {
    Napi::RangeError e = Napi::RangeError::New(
        info.Env(), std::string("The value of \"") + name + "\" is out of range. It must be >= 0 && <= 65535");
    e.Set("code", "ERR_OUT_OF_RANGE");
    throw e;
  }
  return static_cast<uint16_t>(port);
}

}  // namespace sockctl
