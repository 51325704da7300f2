// The one way the addon waits on a descriptor: a LoopWatch, a uv_poll on the environment's
// own libuv loop (napi_get_uv_event_loop), never a thread. Every watch is torn down by one
// path (Close: uv_poll_stop and uv_close, then the descriptor closed if the watch owns it,
// then freed by libuv's close callback) whether its owner closes it, a one-shot wait fires
// or is cancelled, or the environment ends (its async cleanup hook). Users: the one-shot
// waits below (connect, FdChannel, notify), the event readers (events.cc) and the notify
// receiver (notify_receiver.cc). No C++ exception leaves a libuv callback or the hook:
// they use the C API only (environment.h, rule 1).
#pragma once

#include <napi.h>
#include <uv.h>

#include "owned_fd.h"

namespace sockctl {

// Told by its LoopWatch what happens; both run on the environment's thread, and throw nothing.
class WatchOwner {
 public:
  // Each wake-up while started: 0, or a negative libuv error (POLLERR comes as UV_EBADF).
  virtual void OnReady(int status) noexcept = 0;
  // Once, whoever closed the watch (`teardown`: the environment's end); the watch pointer is
  // dead from here on, and its owned descriptor closed.
  virtual void OnClosed(bool teardown) noexcept = 0;

 protected:
  ~WatchOwner() = default;
};

class LoopWatch {
 public:
  // Watches `fd` (owned: closed when the watch closes, also when this fails) or a descriptor
  // someone else owns (borrowed: its owner closes it, and must Close the watch first, or epoll
  // would watch the next file to get its number). Nothing is watched until Start.
  // nullptr and a positive errno when the loop cannot be had.
  static LoopWatch* Open(napi_env env, OwnedFd fd, WatchOwner* owner, int* error) noexcept;
  static LoopWatch* Borrow(napi_env env, int fd, WatchOwner* owner, int* error) noexcept;

  int fd() const noexcept { return fd_; }
  napi_env env() const noexcept { return env_; }

  // UV_READABLE and/or UV_WRITABLE: 0, or a positive errno.
  int Start(int uvEvents) noexcept;
  void Stop() noexcept;
  // The watch no longer keeps the loop (and so the process) alive.
  void Unref() noexcept;
  // The one teardown; idempotent. The owner's OnClosed runs before it returns.
  void Close() noexcept { Close(false); }

 private:
  LoopWatch() = default;
  static LoopWatch* Make(napi_env env, int fd, bool owned, WatchOwner* owner, int* error) noexcept;
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTeardown(napi_async_cleanup_hook_handle handle, void* arg);
  static void OnHandleClosed(uv_handle_t* handle);
  void Close(bool teardown) noexcept;

  uv_poll_t poll_;
  napi_env env_ = nullptr;
  int fd_ = -1;
  bool owned_ = false;
  bool closing_ = false;
  WatchOwner* owner_ = nullptr;
  napi_async_cleanup_hook_handle hook_ = nullptr;
};

// A JavaScript function that the loop calls: its reference and an async context (so that
// async_hooks see where the call came from).
class LoopCallback {
 public:
  // False when either could not be made (nothing is kept then).
  bool Init(napi_env env, napi_value fn, const char* resourceName) noexcept;
  // Calls it with the global as `this`, inside a handle scope the caller opened. What it
  // throws is cleared, and with `report` raised as an uncaught exception, as Node does for
  // its own callbacks. napi_ok, or why it did not return normally.
  napi_status Call(size_t argc, const napi_value* argv, bool report) noexcept;
  // Frees both; at the environment's end the async context is left to it.
  void Release(bool teardown) noexcept;

 private:
  napi_env env_ = nullptr;
  napi_ref fn_ = nullptr;
  napi_async_context context_ = nullptr;
};

enum WaitEvents : int {
  kWaitReadable = 1,
  kWaitWritable = 2,
};

// Calls `callback(errno)` once `fd` is ready for `events` (0), or failed (a positive
// errno; with `readSoError`, SO_ERROR first: what a non-blocking connect ended with).
// Throws ErrnoError(EALREADY, syscall) while another wait on `fd` is pending.
void StartWait(Napi::Env env, int fd, int events, bool readSoError, Napi::Value callback, const char* syscall);

// Forgets the wait on `fd`: its callback never runs. True if there was one. A descriptor
// must not be closed while a wait on it is pending: its owner cancels first.
bool CancelWait(int fd) noexcept;

}  // namespace sockctl
