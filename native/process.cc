// What a supervisor needs of its own process: prctl(2) PR_SET_CHILD_SUBREAPER (orphans of
// its children come back to it, as they would to PID 1), and waitpid(2) by pid with WNOHANG
// to reap those orphans: libuv reaps only the children it spawned, by pid, so waitpid(-1)
// would steal their exit status. pipe(2), for sd_notify's BARRIER=1.
#include <sys/types.h>
#include <sys/wait.h>

#include <cerrno>

#include "environment.h"
#include "errors.h"
#include "init.h"
#include "sys/sys.h"

namespace sockctl {

namespace {

Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  int error = sys::SetChildSubreaper();  // ENOTSUP off Linux
  if (error != 0) throw ErrnoError(info.Env(), error, "prctl");
  return info.Env().Undefined();
}

// reapChild(pid): null while it runs (or is not a zombie yet); { code, signal } once reaped.
Napi::Value ReapChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = IntArg(info, 0, "pid");
  if (pid <= 0) throw ErrnoError(env, EINVAL, "waitpid");
  int status = 0;
  pid_t got;
  do {
    got = waitpid(pid, &status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got < 0) throw ErrnoError(env, errno, "waitpid");
  if (got == 0) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("code", WIFEXITED(status) ? Napi::Value(Napi::Number::New(env, WEXITSTATUS(status))) : env.Null());
  result.Set("signal", WIFSIGNALED(status) ? Napi::Value(Napi::Number::New(env, WTERMSIG(status))) : env.Null());
  return result;
}

// pipe(): [read end, write end], both close-on-exec and owned by this environment.
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  int error = sys::CloexecPipe(fds);
  if (error != 0) throw ErrnoError(env, error, "pipe");
  Own(env, fds[0]);
  Own(env, fds[1]);
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, fds[0]));
  result.Set(1u, Napi::Number::New(env, fds[1]));
  return result;
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper, "setChildSubreaper"));
  exports.Set("reapChild", Napi::Function::New(env, ReapChild, "reapChild"));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
}

}  // namespace sockctl
