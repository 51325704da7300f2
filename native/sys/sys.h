// The one seam between the addon and the platform: what Linux has and other systems do
// not (sock_diag(7), SO_PEERCRED, SO_PASSCRED, SO_ATTACH_REUSEPORT_CBPF, struct tcp_info,
// PR_SET_CHILD_SUBREAPER), and the flags that differ (SOCK_CLOEXEC, MSG_NOSIGNAL,
// MSG_CMSG_CLOEXEC). The build picks one implementation by the target's OS, never by #if
// in the files that use it:
//  - sys/linux.cc and sys/linux_diag.cc on Linux;
//  - sys/darwin.cc on macOS (built in CI by cross compilation: test/package/macos.sh):
//    POSIX equivalents where they exist, and ENOTSUP where they do not, so a call fails
//    clearly instead of silently doing nothing. Another system gets a file of its own.
// Nothing here throws: failures are a positive errno (and the system call to name).
#pragma once

#include <napi.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../diag_row.h"

namespace sockctl::sys {

// The socket option names only some platforms have, added to `constants` (constants.cc
// adds the POSIX ones): a name absent here is absent from the binding's constants.
void AddConstants(Napi::Env env, Napi::Object constants);

// fstat(2). On Linux the system call itself: glibc 2.33 made fstat a symbol of its own
// (fstat64@GLIBC_2.33), which a system with an older glibc cannot load, and on 64-bit Linux
// the kernel's struct stat is glibc's, so the prebuilds stay at GLIBC_2.28.
int FileStat(int fd, struct stat* st) noexcept;

// socket(2), close-on-exec and non-blocking from the start (atomically where the platform
// can): a descriptor or -1 with errno set.
int Socket(int domain, int type, int protocol);

// The flags of a non-blocking send that must not raise SIGPIPE (EPIPE instead).
extern const int kSendFlags;
// The flags of a non-blocking recvmsg whose SCM_RIGHTS arrivals are close-on-exec at once
// where the platform can; elsewhere each arrival goes through ArrivedCloexec.
extern const int kReceiveFlags;
void ArrivedCloexec(int fd) noexcept;

// A process, as the kernel vouches for it.
struct Credentials {
  int32_t pid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// SO_PEERCRED of a connected UNIX socket: 0 or an errno (syscall getsockopt).
int PeerCredentials(int fd, Credentials* credentials) noexcept;

// SO_PASSCRED: every datagram received on `fd` carries its sender's credentials.
int PassCredentials(int fd) noexcept;

// One datagram (recvmsg(2), non-blocking) and the credentials it came with. Descriptors
// that came along are closed. Returns its length, or -errno (-EAGAIN: nothing now).
// `credited` is false when the kernel attached no credentials; `truncated` when the
// datagram was longer than `size`.
ssize_t ReceiveCredited(int fd, char* data, size_t size, Credentials* credentials, bool* credited, bool* truncated) noexcept;

// PR_SET_CHILD_SUBREAPER on this process: 0 or an errno (syscall prctl).
int SetChildSubreaper() noexcept;

// pipe(2) with both ends close-on-exec (atomically where the platform can): 0 or an errno.
int CloexecPipe(int fds[2]) noexcept;

// One classic BPF instruction (linux/filter.h struct sock_filter).
struct BpfInstruction {
  uint16_t code;
  uint8_t jt;
  uint8_t jf;
  uint32_t k;
};
constexpr size_t kBpfMaxInstructions = 4096;  // BPF_MAXINSNS
// SO_ATTACH_REUSEPORT_CBPF / SO_DETACH_REUSEPORT_BPF: 0 or an errno (syscall setsockopt).
int AttachReuseportCbpf(int fd, const std::vector<BpfInstruction>& program) noexcept;
int DetachReuseportBpf(int fd) noexcept;

// getsockopt(TCP_INFO), decoded into the object lib/core/binding.ts types; throws
// ErrnoError (ENOTSUP where the platform's struct is not Linux's).
Napi::Value TcpInfo(Napi::Env env, int fd);
// The decoder alone, on bytes as getsockopt would return them.
Napi::Value DecodeTcpInfo(Napi::Env env, const char* bytes, size_t length);

// sock_diag(7) requests (diag.cc reads their arguments; here they are sent).
struct DumpRequest {
  int families;        // diag::kRequestIpv4 | diag::kRequestIpv6
  uint32_t states;     // 1 << state
  uint16_t localPort;  // 0: any
  uint16_t remotePort;
  uint16_t anyPort;    // local or remote
  uint8_t extensions = 0;  // diag::kExtension*: then DiagDump fills `extras` too
  bool udp = false;        // UDP sockets instead of TCP (ss -u): one request per family
};

// One connection named by its 4-tuple (and its cookie, or none): answered with that
// socket (TIME_WAIT included) or nothing.
struct LookupRequest {
  bool ipv6;
  uint8_t local[16];  // network order, IPv4 in the first 4 bytes
  uint8_t remote[16];
  uint16_t localPort;
  uint16_t remotePort;
  uint32_t cookie[2];  // kNoCookie in both words: any socket on the 4-tuple
};
constexpr uint32_t kNoCookie = 0xffffffffU;  // INET_DIAG_NOCOOKIE

struct Failure {
  int error = 0;  // positive errno; 0 when the call succeeded
  const char* syscall = "";
};

// Blocking; run on the thread pool or synchronously by diag.cc. May throw std::bad_alloc.
Failure DiagDump(const DumpRequest& request, std::vector<diag::DiagRow>* rows, std::vector<diag::DiagExtra>* extras = nullptr);
// On `fd`, a socket from OpenLookupSocket kept by the caller for many lookups (replies
// are matched by sequence number, so a late reply to an earlier request is skipped).
Failure DiagLookup(int fd, const LookupRequest& request, std::vector<diag::DiagRow>* rows);
// SOCK_DESTROY of that socket, on the same kind of socket: EPERM without CAP_NET_ADMIN,
// ENOENT when it is gone (or the cookie is another socket's).
Failure DiagDestroy(int fd, const LookupRequest& request);
// Every UNIX socket of the network namespace (a dump of AF_UNIX sock_diag).
Failure UnixDump(std::vector<diag::UnixRow>* rows);
// A blocking NETLINK_SOCK_DIAG socket for DiagLookup, close-on-exec, its receive bounded by
// SO_RCVTIMEO: a descriptor, or -errno and `syscall` set.
int OpenLookupSocket(const char** syscall) noexcept;
// The rows of recorded sock_diag replies (netlink messages as the kernel sent them).
Failure DiagRowsOf(const char* messages, size_t length, std::vector<diag::DiagRow>* rows);

// A non-blocking socket that receives the kernel's TCP destroy events (sock_diag(7)
// SKNLGRP_INET_TCP_DESTROY and its IPv6 twin): a descriptor, or -errno and `syscall` set.
int OpenDestroyEvents(const char** syscall) noexcept;
// The rows of the events in one read of that socket.
void DestroyEventRows(const char* buffer, size_t length, std::vector<diag::DiagRow>* rows);

}  // namespace sockctl::sys
