// Work on libuv's thread pool that settles a promise (Napi::AsyncWorker, napi_create_async_work
// (3)), with no C++ exception escaping it (environment.h, rule 1). Its completion also runs
// while a worker is being torn down, where every call into JavaScript fails and throws:
// there a throw would reach libuv's callback and std::terminate the whole process.
//
// A subclass gives Run() (thread pool: no napi_env, no JavaScript) and Result() (JavaScript
// thread: the value to resolve with). A Napi::Error from Result() rejects the promise; a
// std::bad_alloc in Run() rejects with ENOMEM; whatever fails while settling is dropped.
// Start it with PromiseWorker::Start<W>(env, args...).
#pragma once

#include <napi.h>

#include <cerrno>
#include <new>
#include <string>
#include <utility>

#include "environment.h"
#include "errors.h"

namespace sockctl {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  // `syscall` names the failure of an out-of-memory rejection: "<syscall> ENOMEM".
  template <typename Worker, typename... Args>
  static Napi::Promise Start(Napi::Env env, Args&&... args) {
    auto* worker = new Worker(env, std::forward<Args>(args)...);
    Napi::Promise promise = worker->deferred_.Promise();
    try {
      worker->Queue();  // from here the worker deletes itself once complete
    } catch (...) {
      delete worker;
      throw;
    }
    return promise;
  }

 protected:
  PromiseWorker(Napi::Env env, const char* name, const char* syscall)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), syscall_(syscall) {}

  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  enum class Outcome { kRan, kOutOfMemory, kFailed };

  void Execute() final {
    try {
      Run();
    } catch (const std::bad_alloc&) {
      outcome_ = Outcome::kOutOfMemory;
    } catch (...) {
      outcome_ = Outcome::kFailed;
    }
  }

  // Replaces Napi::AsyncWorker's, which lets an exception from a failed throw escape.
  void OnWorkComplete(Napi::Env env, napi_status status) final {
    if (status != napi_cancelled) NoThrow([&] { Settle(env); });
    NoThrow([&] { Destroy(); });
  }

  void Settle(Napi::Env env) {
    Napi::HandleScope scope(env);
    try {
      if (outcome_ == Outcome::kOutOfMemory) throw ErrnoError(env, ENOMEM, syscall_);
      if (outcome_ == Outcome::kFailed) throw Napi::Error::New(env, std::string(syscall_) + ": native failure");
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& error) {
      deferred_.Reject(error.Value());  // may throw again when the environment is ending
    }
  }

  // Sealed: settling goes through Settle above, never through these.
  void OnOK() final {}
  void OnError(const Napi::Error&) final {}

  Napi::Promise::Deferred deferred_;
  const char* syscall_;
  Outcome outcome_ = Outcome::kRan;
};

}  // namespace sockctl
