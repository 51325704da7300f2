// Per-environment state and its end: napi_set_instance_data(3), napi_add_env_cleanup_hook(3),
// fstat(2), close(2). The rules every native file follows are in environment.h.
//
// Besides the registry below, each environment keeps the sock_diag socket its 4-tuple
// lookups share (one socket() + setsockopt() saved per lookup), closed at its end.
//
// The registry of owned descriptors is what closes a worker's sockets when the worker ends
// (terminate(), process.exit(), or its last task): the environment's cleanup hook closes
// every descriptor JavaScript still owns there. GC is no help: a terminated worker's heap is
// thrown away without running FinalizationRegistry callbacks.
#include "environment.h"
#include "sys/sys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_map>

namespace sockctl {

namespace {

// What the number named when it was owned: one closed behind the registry's back and
// reused for another file is not closed at the end.
struct FileId {
  dev_t dev;
  ino_t ino;
};

struct Environment {
  Napi::FunctionReference errorFactory;
  std::unordered_map<int, FileId> owned;  // only touched on this environment's thread
  OwnedFd lookup;                         // rule 3's kept socket; none until the first lookup
};

void CloseLookupSocket(Environment* environment) noexcept { environment->lookup.Reset(); }

// Not Napi::Env::GetInstanceData, which may throw: this must not (rule 1).
Environment* Of(napi_env env) noexcept {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) != napi_ok) return nullptr;
  return static_cast<Environment*>(data);
}

bool StillNames(int fd, const FileId& id) noexcept {
  struct stat now;
  return sys::FileStat(fd, &now) == 0 && now.st_dev == id.dev && now.st_ino == id.ino;
}

void CloseOwned(Environment* environment) noexcept {
  for (const auto& [fd, id] : environment->owned) {
    if (StillNames(fd, id)) close(fd);
  }
  environment->owned.clear();
}

// Cleanup hooks run last-registered first, so this one runs before Node-API's own hook
// frees the instance data below; the finalizer still closes and unhooks if it comes first.
void OnCleanup(void* data) noexcept {
  auto* environment = static_cast<Environment*>(data);
  CloseOwned(environment);
  CloseLookupSocket(environment);
}

void OnFinalize(napi_env env, void* data, void*) noexcept {
  auto* environment = static_cast<Environment*>(data);
  napi_remove_env_cleanup_hook(env, OnCleanup, environment);
  CloseOwned(environment);
  CloseLookupSocket(environment);
  NoThrow([&] { delete environment; });
}

}  // namespace

void Own(Napi::Env env, int fd) noexcept {
  struct stat id;
  if (sys::FileStat(fd, &id) != 0) return;  // nothing open under this number: nothing to close later
  Environment* environment = Of(env);
  if (environment != nullptr) NoThrow([&] { environment->owned[fd] = FileId{id.st_dev, id.st_ino}; });
}

int ForJavaScript(Napi::Env env, OwnedFd fd) noexcept {
  int number = fd.Release();
  Own(env, number);
  return number;
}

void Disown(Napi::Env env, int fd) noexcept {
  Environment* environment = Of(env);
  if (environment != nullptr) environment->owned.erase(fd);
}

bool DisownIfSame(Napi::Env env, int fd) noexcept {
  Environment* environment = Of(env);
  if (environment == nullptr) return false;  // torn down: CloseOwned has already run
  auto found = environment->owned.find(fd);
  if (found == environment->owned.end()) return false;
  bool same = StillNames(fd, found->second);
  environment->owned.erase(found);
  return same;
}

int LookupSocket(Napi::Env env, const char** syscall) noexcept {
  Environment* environment = Of(env);
  if (environment == nullptr) {  // torn down: no socket to keep, none made
    *syscall = "socket";
    return -EBADF;
  }
  if (!environment->lookup.valid()) {
    int fd = sys::OpenLookupSocket(syscall);
    if (fd < 0) return fd;
    environment->lookup.Reset(fd);
  }
  return environment->lookup.get();
}

void DropLookupSocket(Napi::Env env) noexcept {
  Environment* environment = Of(env);
  if (environment != nullptr) CloseLookupSocket(environment);
}

// InitEnvironment runs before anything that asks for it.
// Once the environment's data is finalized (teardown), an empty reference: ErrnoError then
// builds its error without the factory instead of reading freed memory.
Napi::FunctionReference& ErrorFactoryOf(Napi::Env env) {
  Environment* environment = Of(env);
  if (environment != nullptr) return environment->errorFactory;
  static Napi::FunctionReference none;
  return none;
}

void InitEnvironment(Napi::Env env) {
  auto* environment = new Environment();
  if (napi_set_instance_data(env, environment, OnFinalize, nullptr) != napi_ok) {
    delete environment;
    throw Napi::Error::New(env, "sockctl: napi_set_instance_data failed");
  }
  if (napi_add_env_cleanup_hook(env, OnCleanup, environment) != napi_ok) {
    throw Napi::Error::New(env, "sockctl: napi_add_env_cleanup_hook failed");
  }
}

}  // namespace sockctl
