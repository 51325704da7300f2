// macOS's side of the seam (sys.h): POSIX equivalents where macOS has them (socket(2) then
// fcntl(2) FD_CLOEXEC and O_NONBLOCK, SO_NOSIGPIPE, getpeereid(3) and LOCAL_PEERPID), and a
// clean ENOTSUP for what only Linux has: sock_diag(7) (tcpStates, waitForState's kernel
// lookups, the destroy events), SO_PASSCRED (the supervisor's NOTIFY_SOCKET receiver),
// SO_ATTACH_REUSEPORT_CBPF, struct tcp_info (macOS has TCP_CONNECTION_INFO, not decoded),
// PR_SET_CHILD_SUBREAPER. Compiled in CI for x86_64-macos and aarch64-macos by
// test/package/macos.sh; never run there.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

#include "../errors.h"
#include "sys.h"

namespace sockctl::sys {

void AddConstants(Napi::Env env, Napi::Object c) {
#define SOCKCTL_CONSTANT(name) c.Set(#name, Napi::Number::New(env, name));
  SOCKCTL_CONSTANT(SO_REUSEPORT)
  SOCKCTL_CONSTANT(SO_ACCEPTCONN)
  SOCKCTL_CONSTANT(TCP_KEEPINTVL)
  SOCKCTL_CONSTANT(TCP_KEEPCNT)
  SOCKCTL_CONSTANT(TCP_FASTOPEN)
  SOCKCTL_CONSTANT(TCP_NOTSENT_LOWAT)
#undef SOCKCTL_CONSTANT
}

int FileStat(int fd, struct stat* st) noexcept { return fstat(fd, st); }

int Socket(int domain, int type, int protocol) {
  int fd = socket(domain, type, protocol);
  if (fd < 0) return fd;
  int flags = fcntl(fd, F_GETFL);
  int on = 1;
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

// SIGPIPE: SO_NOSIGPIPE on the sockets made here; Node ignores SIGPIPE for the rest.
const int kSendFlags = MSG_DONTWAIT;
const int kReceiveFlags = MSG_DONTWAIT;
void ArrivedCloexec(int fd) noexcept { fcntl(fd, F_SETFD, FD_CLOEXEC); }

int PeerCredentials(int fd, Credentials* credentials) noexcept {
  uid_t uid;
  gid_t gid;
  if (getpeereid(fd, &uid, &gid) != 0) return errno;
  pid_t pid = 0;
  socklen_t length = sizeof pid;
  if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &pid, &length) != 0) return errno;
  credentials->pid = pid;
  credentials->uid = uid;
  credentials->gid = gid;
  return 0;
}

int PassCredentials(int) noexcept { return ENOTSUP; }

ssize_t ReceiveCredited(int, char*, size_t, Credentials*, bool*, bool*) noexcept { return -ENOTSUP; }

int SetChildSubreaper() noexcept { return ENOTSUP; }

int CloexecPipe(int fds[2]) noexcept {
  if (pipe(fds) != 0) return errno;
  for (int i = 0; i < 2; i++) {
    if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
      int error = errno;
      close(fds[0]);
      close(fds[1]);
      return error;
    }
  }
  return 0;
}

int AttachReuseportCbpf(int, const std::vector<BpfInstruction>&) noexcept { return ENOTSUP; }

int DetachReuseportBpf(int) noexcept { return ENOTSUP; }

Napi::Value TcpInfo(Napi::Env env, int) { throw ErrnoError(env, ENOTSUP, "getsockopt"); }

Napi::Value DecodeTcpInfo(Napi::Env env, const char*, size_t) { throw ErrnoError(env, ENOTSUP, "getsockopt"); }

namespace {

Failure NoSockDiag() {
  Failure failure;
  failure.error = ENOTSUP;
  failure.syscall = "sock_diag";
  return failure;
}

}  // namespace

Failure DiagDump(const DumpRequest&, std::vector<diag::DiagRow>*, std::vector<diag::DiagExtra>*) { return NoSockDiag(); }

Failure DiagLookup(int, const LookupRequest&, std::vector<diag::DiagRow>*) { return NoSockDiag(); }

Failure DiagDestroy(int, const LookupRequest&) { return NoSockDiag(); }

Failure UnixDump(std::vector<diag::UnixRow>*) { return NoSockDiag(); }

int OpenLookupSocket(const char** syscall) noexcept {
  *syscall = "socket";
  return -ENOTSUP;
}

Failure DiagRowsOf(const char*, size_t, std::vector<diag::DiagRow>*) { return NoSockDiag(); }

int OpenDestroyEvents(const char** syscall) noexcept {
  *syscall = "socket";
  return -ENOTSUP;
}

void DestroyEventRows(const char*, size_t, std::vector<diag::DiagRow>*) {}

}  // namespace sockctl::sys
