// The one way the addon waits on a descriptor: a uv_poll on the environment's own libuv
// loop (napi_get_uv_event_loop), never a thread. One wait per descriptor at a time, torn
// down by one path (Release: uv_poll_stop, then uv_close, then free) whether it fires, is
// cancelled, or the environment ends (its async cleanup hook). No C++ exception leaves a
// libuv callback or the hook: they use the C API only (environment.h, rule 1).
#pragma once

#include <napi.h>

namespace sockctl {

enum WaitEvents : int {
  kWaitReadable = 1,
  kWaitWritable = 2,
};

// Calls `callback(errno)` once `fd` is ready for `events` (0), or failed (a positive
// errno; with `readSoError`, SO_ERROR first: what a non-blocking connect ended with).
// Throws ErrnoError(EALREADY, syscall) while another wait on `fd` is pending.
void StartWait(Napi::Env env, int fd, int events, bool readSoError, Napi::Value callback, const char* syscall);

// Forgets the wait on `fd`: its callback never runs. True if there was one. A descriptor
// must not be closed while a wait on it is pending (epoll would watch the next file to
// get its number): its owner cancels first.
bool CancelWait(int fd) noexcept;

}  // namespace sockctl
