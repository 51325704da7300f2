// Linux's side of the seam (sys.h): what only Linux has, and Linux's flags. socket(2)
// with SOCK_CLOEXEC | SOCK_NONBLOCK, send(2) MSG_NOSIGNAL, recvmsg(2) MSG_CMSG_CLOEXEC,
// unix(7) SO_PEERCRED, SO_PASSCRED and SCM_CREDENTIALS, cmsg(3), prctl(2)
// PR_SET_CHILD_SUBREAPER, socket(7) SO_ATTACH_REUSEPORT_CBPF (linux/filter.h), tcp(7)
// TCP_INFO (struct tcp_info). sock_diag(7) is in linux_diag.cc.
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "../errors.h"
#include "sys.h"

namespace sockctl::sys {

void AddConstants(Napi::Env env, Napi::Object c) {
#define SOCKCTL_CONSTANT(name) c.Set(#name, Napi::Number::New(env, name));
  SOCKCTL_CONSTANT(SO_REUSEPORT)
  SOCKCTL_CONSTANT(SO_ACCEPTCONN)
  SOCKCTL_CONSTANT(SO_PRIORITY)
  SOCKCTL_CONSTANT(TCP_KEEPIDLE)
  SOCKCTL_CONSTANT(TCP_KEEPINTVL)
  SOCKCTL_CONSTANT(TCP_KEEPCNT)
  SOCKCTL_CONSTANT(TCP_USER_TIMEOUT)
  SOCKCTL_CONSTANT(TCP_DEFER_ACCEPT)
  SOCKCTL_CONSTANT(TCP_QUICKACK)
  SOCKCTL_CONSTANT(TCP_CORK)
  SOCKCTL_CONSTANT(TCP_FASTOPEN)
  SOCKCTL_CONSTANT(TCP_SYNCNT)
  SOCKCTL_CONSTANT(TCP_NOTSENT_LOWAT)
  SOCKCTL_CONSTANT(TCP_WINDOW_CLAMP)
  SOCKCTL_CONSTANT(TCP_FASTOPEN_CONNECT)
  SOCKCTL_CONSTANT(IP_BIND_ADDRESS_NO_PORT)
  SOCKCTL_CONSTANT(TCP_INFO)
#undef SOCKCTL_CONSTANT
}

int FileStat(int fd, struct stat* st) noexcept {
#if defined(SYS_fstat) && (defined(__x86_64__) || defined(__aarch64__))
  return static_cast<int>(syscall(SYS_fstat, fd, st));
#else
  return fstat(fd, st);
#endif
}

int Socket(int domain, int type, int protocol) { return socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol); }

const int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;
const int kReceiveFlags = MSG_CMSG_CLOEXEC | MSG_DONTWAIT;
void ArrivedCloexec(int) noexcept {}

int PeerCredentials(int fd, Credentials* credentials) noexcept {
  ucred cred = {};
  socklen_t length = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return errno;
  credentials->pid = cred.pid;
  credentials->uid = cred.uid;
  credentials->gid = cred.gid;
  return 0;
}

int PassCredentials(int fd) noexcept {
  int on = 1;
  return setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0 ? 0 : errno;
}

namespace {

// Closes whatever descriptors came with a message.
void CloseRights(msghdr* msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      close(fd);
    }
  }
}

}  // namespace

ssize_t ReceiveCredited(int fd, char* data, size_t size, Credentials* credentials, bool* credited, bool* truncated) noexcept {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * 16)];
  iovec iov = {data, size};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t got;
  do {
    got = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return -errno;
  CloseRights(&msg);
  *credited = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
      credentials->pid = cred.pid;
      credentials->uid = cred.uid;
      credentials->gid = cred.gid;
      *credited = true;
    }
  }
  *truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  return got;
}

int SetChildSubreaper() noexcept { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : errno; }

int CloexecPipe(int fds[2]) noexcept { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno; }

static_assert(kBpfMaxInstructions == BPF_MAXINSNS, "sys.h's bound is the kernel's");

int AttachReuseportCbpf(int fd, const std::vector<BpfInstruction>& program) noexcept {
  std::vector<sock_filter> filter;
  try {
    filter.reserve(program.size());
  } catch (...) {
    return ENOMEM;
  }
  for (const BpfInstruction& insn : program) filter.push_back(sock_filter{insn.code, insn.jt, insn.jf, insn.k});
  sock_fprog fprog = {static_cast<unsigned short>(filter.size()), filter.data()};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof fprog) == 0 ? 0 : errno;
}

int DetachReuseportBpf(int fd) noexcept {
  int unused = 0;
  return setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &unused, sizeof unused) == 0 ? 0 : errno;
}

namespace {

// Room for the kernel's whole struct tcp_info: glibc's <netinet/tcp.h> stops at
// tcpi_total_retrans (104 bytes); the later fields are read at their offsets in the
// kernel's (linux/tcp.h, fixed by its ABI: fields are only ever appended).
constexpr size_t kTcpInfoBytes = 256;
union TcpInfoBuffer {
  struct tcp_info ti;
  unsigned char raw[kTcpInfoBytes];
};

// The fields `length` bytes of `ti` cover, by the names lib/core/binding.ts types.
Napi::Object Decode(Napi::Env env, const TcpInfoBuffer& buffer, size_t length) {
  const struct tcp_info& ti = buffer.ti;
  Napi::Object r = Napi::Object::New(env);
  auto put = [&](const char* key, size_t end, double value) {
    if (end <= length) r.Set(key, Napi::Number::New(env, value));
  };
  // A field of the kernel's struct beyond glibc's: `bytes` (4 or 8) at `offset`.
  auto later = [&](const char* key, size_t offset, size_t bytes) {
    if (offset + bytes > length) return;
    if (bytes == 8) {
      uint64_t value;
      std::memcpy(&value, buffer.raw + offset, sizeof value);
      r.Set(key, Napi::Number::New(env, static_cast<double>(value)));
    } else {
      uint32_t value;
      std::memcpy(&value, buffer.raw + offset, sizeof value);
      r.Set(key, Napi::Number::New(env, value));
    }
  };
#define SOCKCTL_FIELD(key, member) put(key, offsetof(struct tcp_info, member) + sizeof ti.member, ti.member)
  SOCKCTL_FIELD("state", tcpi_state);
  SOCKCTL_FIELD("caState", tcpi_ca_state);
  SOCKCTL_FIELD("retransmits", tcpi_retransmits);
  SOCKCTL_FIELD("probes", tcpi_probes);
  SOCKCTL_FIELD("backoff", tcpi_backoff);
  SOCKCTL_FIELD("options", tcpi_options);
  // The two 4-bit window scales share the byte after tcpi_options (bit-fields: no offsetof).
  size_t wscaleEnd = offsetof(struct tcp_info, tcpi_options) + sizeof ti.tcpi_options + 1;
  put("sndWscale", wscaleEnd, ti.tcpi_snd_wscale);
  put("rcvWscale", wscaleEnd, ti.tcpi_rcv_wscale);
  SOCKCTL_FIELD("rto", tcpi_rto);
  SOCKCTL_FIELD("ato", tcpi_ato);
  SOCKCTL_FIELD("sndMss", tcpi_snd_mss);
  SOCKCTL_FIELD("rcvMss", tcpi_rcv_mss);
  SOCKCTL_FIELD("unacked", tcpi_unacked);
  SOCKCTL_FIELD("sacked", tcpi_sacked);
  SOCKCTL_FIELD("lost", tcpi_lost);
  SOCKCTL_FIELD("retrans", tcpi_retrans);
  SOCKCTL_FIELD("lastDataSent", tcpi_last_data_sent);
  SOCKCTL_FIELD("lastAckSent", tcpi_last_ack_sent);
  SOCKCTL_FIELD("lastDataRecv", tcpi_last_data_recv);
  SOCKCTL_FIELD("lastAckRecv", tcpi_last_ack_recv);
  SOCKCTL_FIELD("pmtu", tcpi_pmtu);
  SOCKCTL_FIELD("rcvSsthresh", tcpi_rcv_ssthresh);
  SOCKCTL_FIELD("rtt", tcpi_rtt);
  SOCKCTL_FIELD("rttvar", tcpi_rttvar);
  SOCKCTL_FIELD("sndSsthresh", tcpi_snd_ssthresh);
  SOCKCTL_FIELD("sndCwnd", tcpi_snd_cwnd);
  SOCKCTL_FIELD("advmss", tcpi_advmss);
  SOCKCTL_FIELD("reordering", tcpi_reordering);
  SOCKCTL_FIELD("rcvRtt", tcpi_rcv_rtt);
  SOCKCTL_FIELD("rcvSpace", tcpi_rcv_space);
  SOCKCTL_FIELD("totalRetrans", tcpi_total_retrans);
#undef SOCKCTL_FIELD
  // linux/tcp.h after tcpi_total_retrans (offset 100): rates in bytes per second, times in µs.
  later("pacingRate", 104, 8);
  later("maxPacingRate", 112, 8);
  later("bytesAcked", 120, 8);
  later("bytesReceived", 128, 8);
  later("segsOut", 136, 4);
  later("segsIn", 140, 4);
  later("notsentBytes", 144, 4);
  later("minRtt", 148, 4);
  later("dataSegsIn", 152, 4);
  later("dataSegsOut", 156, 4);
  later("deliveryRate", 160, 8);
  later("busyTime", 168, 8);
  later("rwndLimited", 176, 8);
  later("sndbufLimited", 184, 8);
  later("delivered", 192, 4);
  later("deliveredCe", 196, 4);
  later("bytesSent", 200, 8);
  later("bytesRetrans", 208, 8);
  later("dsackDups", 216, 4);
  later("reordSeen", 220, 4);
  later("rcvOoopack", 224, 4);
  later("sndWnd", 228, 4);
  return r;
}

}  // namespace

Napi::Value TcpInfo(Napi::Env env, int fd) {
  TcpInfoBuffer buffer = {};
  socklen_t length = sizeof buffer;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &buffer, &length) != 0) throw ErrnoError(env, errno, "getsockopt");
  return Decode(env, buffer, length);
}

Napi::Value DecodeTcpInfo(Napi::Env env, const char* bytes, size_t length) {
  TcpInfoBuffer buffer = {};
  if (length > sizeof buffer) length = sizeof buffer;
  if (bytes == nullptr) length = 0;
  if (length != 0) std::memcpy(&buffer, bytes, length);
  return Decode(env, buffer, length);
}

}  // namespace sockctl::sys
