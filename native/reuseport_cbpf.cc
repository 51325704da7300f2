// Steering a SO_REUSEPORT group: socket(7) SO_ATTACH_REUSEPORT_CBPF and
// SO_DETACH_REUSEPORT_BPF, with a classic BPF program (linux/filter.h: struct sock_filter,
// struct sock_fprog; the program is built and checked in lib/serve/steering.ts). The
// program's return value picks the group member by index; no privilege is needed.
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "errors.h"
#include "init.h"
#include "sys/sys.h"

namespace sockctl {

namespace {

// The program as a flat array of numbers: code, jt, jf, k for each instruction.
Napi::Value AttachReuseportCbpf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (info.Length() < 2 || !info[1].IsArray()) throw ArgTypeError(env, "program", "an instance of Array");
  Napi::Array flat = info[1].As<Napi::Array>();
  uint32_t length = flat.Length();
  if (length == 0 || length % 4 != 0 || length / 4 > sys::kBpfMaxInstructions) throw ErrnoError(env, EINVAL, "setsockopt");
  std::vector<sys::BpfInstruction> program(length / 4);
  for (uint32_t i = 0; i < length; i++) {
    Napi::Value v = flat.Get(i);
    if (!v.IsNumber()) throw ArgTypeError(env, "program", "an array of numbers");
    double d = v.As<Napi::Number>().DoubleValue();
    uint32_t max = (i % 4 == 0) ? 0xffff : (i % 4 == 3) ? 0xffffffffu : 0xff;
    if (!(d >= 0 && d <= max) || static_cast<double>(static_cast<uint32_t>(d)) != d) {
      throw ErrnoError(env, EINVAL, "setsockopt");
    }
    auto n = static_cast<uint32_t>(d);
    sys::BpfInstruction& insn = program[i / 4];
    switch (i % 4) {
      case 0: insn.code = static_cast<uint16_t>(n); break;
      case 1: insn.jt = static_cast<uint8_t>(n); break;
      case 2: insn.jf = static_cast<uint8_t>(n); break;
      default: insn.k = n; break;
    }
  }
  int error = sys::AttachReuseportCbpf(fd, program);
  if (error != 0) throw ErrnoError(env, error, "setsockopt");
  return env.Undefined();
}

Napi::Value DetachReuseportBpf(const Napi::CallbackInfo& info) {
  int error = sys::DetachReuseportBpf(FdArg(info, 0));
  if (error != 0) throw ErrnoError(info.Env(), error, "setsockopt");
  return info.Env().Undefined();
}

}  // namespace

void InitReuseportCbpf(Napi::Env env, Napi::Object exports) {
  exports.Set("attachReuseportCbpf", Napi::Function::New(env, AttachReuseportCbpf, "attachReuseportCbpf"));
  exports.Set("detachReuseportBpf", Napi::Function::New(env, DetachReuseportBpf, "detachReuseportBpf"));
}

}  // namespace sockctl
