// TCP_INFO, tcp(7): Linux's struct tcp_info from <netinet/tcp.h>, getsockopt(2), decoded
// in sys/linux.cc. Other platforms have other structs (macOS TCP_CONNECTION_INFO); there
// the call fails with ENOTSUP. The kernel (or an emulator: qemu-user fills 4 bytes) may return a shorter
// struct than these headers know: a field beyond the returned length is left out, never
// shown as 0.
#include "errors.h"
#include "init.h"
#include "sys/sys.h"

namespace sockctl {

namespace {

Napi::Value GetTcpInfo(const Napi::CallbackInfo& info) { return sys::TcpInfo(info.Env(), FdArg(info, 0)); }

// The decoder alone, on bytes as getsockopt would return them (the length is theirs):
// how a test shows what a short struct gives without a kernel that returns one.
Napi::Value DecodeTcpInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw ArgTypeError(env, "bytes", "an instance of Buffer or TypedArray");
  Napi::TypedArray bytes = info[0].As<Napi::TypedArray>();
  const auto* data = static_cast<const char*>(bytes.ArrayBuffer().Data());
  return sys::DecodeTcpInfo(env, data == nullptr ? nullptr : data + bytes.ByteOffset(), bytes.ByteLength());
}

}  // namespace

void InitTcpInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("getTcpInfo", Napi::Function::New(env, GetTcpInfo, "getTcpInfo"));
  exports.Set("decodeTcpInfo", Napi::Function::New(env, DecodeTcpInfo, "decodeTcpInfo"));
}

}  // namespace sockctl
