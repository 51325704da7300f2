// What the addon keeps per Node environment (the main thread and each worker_threads
// Worker): napi_set_instance_data(3), napi_add_env_cleanup_hook(3), fstat(2), close(2).
//
// Rules for every native file (a worker can end, by terminate() or process.exit(), at any
// point of a call; a C++ exception that leaves a callback without a JavaScript frame under
// it is std::terminate, which aborts every thread of the process):
//  1. No C++ exception escapes code that JavaScript did not call directly: finalizers,
//     cleanup hooks, AsyncWorker Execute/OnOK/OnError. Async work derives from
//     PromiseWorker (promise_worker.h), which enforces it; anything else runs its body
//     inside NoThrow() below. Both builds define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS,
//     so a Napi::Error thrown from a direct call in a terminating environment is dropped
//     instead of aborting.
//  2. A descriptor made for JavaScript (socket, dup, accept, SCM_RIGHTS, ...) is passed to
//     Own() right after the system call that made it, or held in an OwnedFd until it is
//     passed on with ForJavaScript(), so that nothing that throws in between leaks it:
//     if the environment ends while JavaScript still owns it, it is closed then. JavaScript
//     gives it up through the binding's close() (closes and forgets) or disown() (release():
//     the new owner, e.g. libuv, closes it). lib/core/descriptor.ts does both.
//  3. A descriptor used only natively (a dump's netlink socket, a watched one: watcher.h)
//     stays in an OwnedFd, or in the LoopWatch that owns it, and is never registered. The
//     one exception is the environment's own: the NETLINK_SOCK_DIAG socket that every
//     4-tuple lookup reuses (LookupSocket),
//     close-on-exec, opened at the first lookup, used only on the environment's thread, and
//     closed by the environment's cleanup (a terminated worker's included).
#pragma once

#include <napi.h>

#include "owned_fd.h"

namespace sockctl {

// Creates this environment's state; called first from the addon's Init.
void InitEnvironment(Napi::Env env);

// The error factory that lib/core/binding.ts hands over at load time (errors.cc).
Napi::FunctionReference& ErrorFactoryOf(Napi::Env env);

// Rule 2: `fd` belongs to JavaScript in this environment from now on.
void Own(Napi::Env env, int fd) noexcept;

// Rule 2 for a descriptor held in an OwnedFd: owned by JavaScript from now on; its number.
int ForJavaScript(Napi::Env env, OwnedFd fd) noexcept;

// JavaScript closed `fd` or gave it away: it is no longer closed at the end.
void Disown(Napi::Env env, int fd) noexcept;

// Disown, and true only when this environment owned `fd` and the number still names the
// file it named then (not one closed behind our back and reused): what may be closed.
bool DisownIfSame(Napi::Env env, int fd) noexcept;

// Rule 3: this environment's sock_diag socket for 4-tuple lookups (sys::OpenLookupSocket),
// opened on first use: a descriptor, or -errno with `syscall` set. Not for JavaScript.
int LookupSocket(Napi::Env env, const char** syscall) noexcept;

// Closes it after a failed send or receive, so that the next lookup starts afresh.
void DropLookupSocket(Napi::Env env) noexcept;

// Rule 1: runs `body`, and swallows whatever it throws.
template <typename Body>
void NoThrow(Body&& body) noexcept {
  try {
    body();
  } catch (...) {
  }
}

}  // namespace sockctl
