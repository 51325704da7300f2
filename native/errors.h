// Node-style system errors: errno(3).
// The Error object itself is made in TypeScript (lib/core/errors.ts) so that native and
// TypeScript failures share one shape: message "<syscall> <CODE>", code, negative errno,
// syscall, and address/port where there is one.
#pragma once

#include <napi.h>

#include <cstdint>

namespace sockctl {

// Keeps the factory that lib/core/binding.ts hands over once at load time.
void InitErrors(Napi::Env env, Napi::Object exports);

// Builds the Node-style error for `err` (a positive errno) as a C++ exception.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall);

// Node's ERR_INVALID_ARG_TYPE: 'The "<name>" argument must be <expected>'.
Napi::TypeError ArgTypeError(Napi::Env env, const char* name, const char* expected);

// The argument at `index` as a descriptor number; TypeScript has checked it already,
// this is the cheap second check for direct callers of the binding.
int FdArg(const Napi::CallbackInfo& info, size_t index);

// The argument at `index` as a 32-bit integer, with the same cheap check.
int IntArg(const Napi::CallbackInfo& info, size_t index, const char* name);

// The argument at `index` as a Buffer (or a typed array's bytes); ERR_INVALID_ARG_TYPE for
// anything else, a DataView included.
Napi::Buffer<char> BufferArg(const Napi::CallbackInfo& info, size_t index, const char* name);

// The argument at `index` as a port, 0..65535 (ERR_OUT_OF_RANGE otherwise).
uint16_t PortArg(const Napi::CallbackInfo& info, size_t index, const char* name);

}  // namespace sockctl
