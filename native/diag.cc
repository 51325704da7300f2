// The TCP sockets of this host as the kernel lists them, the way ss(8) asks: sock_diag(7),
// netlink(7), inet_diag requests (SOCK_DIAG_BY_FAMILY, linux/inet_diag.h) with the state
// mask and the port filter (INET_DIAG_REQ_BYTECODE, diag_bytecode.h) evaluated in the
// kernel. One dump on a NETLINK_SOCK_DIAG socket of its own.
//
// Rows go back to JavaScript as one ArrayBuffer of fixed 64-byte records (lib/states/
// netlink.ts decodes them): one copy, no per-field Napi calls. tcpDiagDump does the work on
// libuv's thread pool (PromiseWorker) and resolves a promise; tcpDiagDumpSync blocks.
// Linux only: elsewhere both fail with ENOTSUP.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "errors.h"
#include "init.h"
#include "promise_worker.h"

#ifdef __linux__
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>

#include "diag_bytecode.h"
#endif

namespace sockctl {

namespace {

// One socket, in native byte order; keep in step with lib/states/netlink.ts.
struct DiagRow {
  uint8_t family;       // 4 or 6
  uint8_t state;        // include/net/tcp_states.h
  uint8_t timer;        // 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero-window probe
  uint8_t retransmits;
  uint32_t expiresMs;
  uint32_t recvQ;
  uint32_t sendQ;
  uint32_t uid;
  uint32_t inode;
  uint16_t localPort;
  uint16_t remotePort;
  uint8_t local[16];    // network order; IPv4 in the first 4 bytes
  uint8_t remote[16];
  uint32_t reserved;
};
static_assert(sizeof(DiagRow) == 64, "lib/states/netlink.ts reads 64-byte rows");

constexpr int kIpv4 = 1;
constexpr int kIpv6 = 2;

struct DumpRequest {
  int families;         // kIpv4 | kIpv6
  uint32_t states;      // 1 << state
  uint16_t localPort;   // 0: any
  uint16_t remotePort;
  uint16_t anyPort;     // local or remote
};

struct DumpFailure {
  int error = 0;        // positive errno; 0 when the dump succeeded
  const char* syscall = "";
};

#ifdef __linux__

constexpr size_t kReceiveBytes = 64 * 1024;  // the kernel fills at most 32 KiB per read
constexpr int kMaxReceives = 1 << 16;        // ~370 sockets a read: far beyond any real table
constexpr time_t kReceiveTimeoutSeconds = 10;

std::atomic<uint32_t> nextSequence{1};

// Owns the netlink socket: closed once, on every path.
class NetlinkSocket {
 public:
  NetlinkSocket() : fd_(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) {}
  ~NetlinkSocket() {
    if (fd_ >= 0) close(fd_);
  }
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

DumpFailure Fail(int error, const char* syscall) {
  DumpFailure failure;
  failure.error = error;
  failure.syscall = syscall;
  return failure;
}

// `family` AF_INET or AF_INET6: a SOCK_DIAG_BY_FAMILY request. AF_UNSPEC (both families):
// the older TCPDIAG_GETSOCK request, which the kernel still serves (inet_diag_rcv_msg_compat)
// with one walk of the socket tables for both families instead of one walk per family.
DumpFailure SendRequest(int fd, uint8_t family, const DumpRequest& request, uint32_t sequence) {
  struct {
    nlmsghdr header;
    union {
      inet_diag_req_v2 byFamily;
      inet_diag_req both;
    } body;
  } message = {};
  diag::Bytecode filter = diag::PortFilter(request.localPort, request.remotePort, request.anyPort);
  nlattr attribute = {};
  attribute.nla_type = INET_DIAG_REQ_BYTECODE;
  attribute.nla_len = static_cast<uint16_t>(NLA_HDRLEN + diag::Bytes(filter));

  size_t headerBytes;
  if (family == AF_UNSPEC) {
    headerBytes = NLMSG_LENGTH(sizeof(inet_diag_req));
    message.header.nlmsg_type = TCPDIAG_GETSOCK;
    message.body.both.idiag_states = request.states;
  } else {
    headerBytes = NLMSG_LENGTH(sizeof(inet_diag_req_v2));
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.body.byFamily.sdiag_family = family;
    message.body.byFamily.sdiag_protocol = IPPROTO_TCP;
    message.body.byFamily.idiag_states = request.states;
  }
  message.header.nlmsg_len = static_cast<uint32_t>(headerBytes + (filter.empty() ? 0 : attribute.nla_len));
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = sequence;

  iovec parts[3] = {
      {&message, headerBytes},
      {&attribute, sizeof attribute},
      {filter.data(), static_cast<size_t>(diag::Bytes(filter))},
  };
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  msghdr header = {};
  header.msg_name = &kernel;
  header.msg_namelen = sizeof kernel;
  header.msg_iov = parts;
  header.msg_iovlen = filter.empty() ? 1 : 3;

  ssize_t sent;
  do {
    sent = sendmsg(fd, &header, 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return Fail(errno, "sendmsg");
  return {};
}

void AppendRow(const inet_diag_msg& message, std::vector<DiagRow>* rows) {
  DiagRow row = {};
  bool ipv6 = message.idiag_family == AF_INET6;
  row.family = ipv6 ? 6 : 4;
  row.state = message.idiag_state;
  row.timer = message.idiag_timer;
  row.retransmits = message.idiag_retrans;
  row.expiresMs = message.idiag_expires;
  row.recvQ = message.idiag_rqueue;
  row.sendQ = message.idiag_wqueue;
  row.uid = message.idiag_uid;
  row.inode = message.idiag_inode;
  row.localPort = ntohs(message.id.idiag_sport);
  row.remotePort = ntohs(message.id.idiag_dport);
  std::memcpy(row.local, message.id.idiag_src, ipv6 ? 16 : 4);
  std::memcpy(row.remote, message.id.idiag_dst, ipv6 ? 16 : 4);
  rows->push_back(row);
}

// Reads the replies (of `type`) to `sequence` until NLMSG_DONE; a bounded number of reads,
// each bounded by SO_RCVTIMEO.
DumpFailure ReceiveRows(int fd, uint32_t sequence, uint16_t type, std::vector<DiagRow>* rows) {
  std::vector<uint64_t> storage(kReceiveBytes / sizeof(uint64_t));  // aligned for nlmsghdr
  char* buffer = reinterpret_cast<char*>(storage.data());
  for (int reads = 0; reads < kMaxReceives; ++reads) {
    sockaddr_nl from = {};
    iovec part = {buffer, kReceiveBytes};
    msghdr header = {};
    header.msg_name = &from;
    header.msg_namelen = sizeof from;
    header.msg_iov = &part;
    header.msg_iovlen = 1;
    ssize_t received;
    do {
      received = recvmsg(fd, &header, 0);
    } while (received < 0 && errno == EINTR);
    if (received < 0) return Fail(errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno, "recvmsg");
    if (header.msg_flags & MSG_TRUNC) return Fail(EMSGSIZE, "recvmsg");
    if (from.nl_pid != 0) continue;  // only the kernel answers a dump

    int left = static_cast<int>(received);
    for (auto* message = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(message, left);
         message = NLMSG_NEXT(message, left)) {
      if (message->nlmsg_seq != sequence) continue;  // not a reply to this request
      if (message->nlmsg_type == NLMSG_DONE) {
        // A dump that failed part-way says so in NLMSG_DONE's payload.
        if (message->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int status;
          std::memcpy(&status, NLMSG_DATA(message), sizeof status);
          if (status < 0) return Fail(-status, "sock_diag");
        }
        return {};
      }
      if (message->nlmsg_type == NLMSG_ERROR) {
        if (message->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return Fail(EBADMSG, "sock_diag");
        const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(message));
        if (error->error == 0) continue;  // an acknowledgement
        return Fail(-error->error, "sock_diag");
      }
      if (message->nlmsg_type != type) continue;
      if (message->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return Fail(EBADMSG, "sock_diag");
      AppendRow(*static_cast<const inet_diag_msg*>(NLMSG_DATA(message)), rows);
    }
  }
  return Fail(EOVERFLOW, "recvmsg");
}

DumpFailure Dump(const DumpRequest& request, std::vector<DiagRow>* rows) {
  if (request.families == 0) return {};
  NetlinkSocket socket;
  if (socket.fd() < 0) return Fail(errno, "socket");
  timeval timeout = {kReceiveTimeoutSeconds, 0};
  if (setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    return Fail(errno, "setsockopt");
  }
  uint8_t family = request.families == kIpv4 ? AF_INET : request.families == kIpv6 ? AF_INET6 : AF_UNSPEC;
  uint32_t sequence = nextSequence.fetch_add(1);
  DumpFailure failure = SendRequest(socket.fd(), family, request, sequence);
  if (failure.error != 0) return failure;
  // Replies carry the request's type.
  return ReceiveRows(socket.fd(), sequence, family == AF_UNSPEC ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY, rows);
}

#else

DumpFailure Dump(const DumpRequest&, std::vector<DiagRow>*) {
  DumpFailure failure;
  failure.error = ENOTSUP;
  failure.syscall = "sock_diag";
  return failure;
}

#endif  // __linux__

Napi::ArrayBuffer ToArrayBuffer(Napi::Env env, const std::vector<DiagRow>& rows) {
  size_t bytes = rows.size() * sizeof(DiagRow);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes != 0) std::memcpy(buffer.Data(), rows.data(), bytes);
  return buffer;
}

// (families, states, localPort, remotePort, anyPort): checked in lib/states/ first.
DumpRequest RequestArgs(const Napi::CallbackInfo& info) {
  DumpRequest request;
  request.families = IntArg(info, 0, "families") & (kIpv4 | kIpv6);
  request.states = static_cast<uint32_t>(IntArg(info, 1, "states"));
  request.localPort = PortArg(info, 2, "localPort");
  request.remotePort = PortArg(info, 3, "remotePort");
  request.anyPort = PortArg(info, 4, "anyPort");
  return request;
}

class DumpWorker : public PromiseWorker {
 public:
  DumpWorker(Napi::Env env, const DumpRequest& request)
      : PromiseWorker(env, "sockctl:tcpDiagDump", "sock_diag"), request_(request) {}

 private:
  void Run() override { failure_ = Dump(request_, &rows_); }

  Napi::Value Result(Napi::Env env) override {
    if (failure_.error != 0) throw ErrnoError(env, failure_.error, failure_.syscall);
    return ToArrayBuffer(env, rows_);
  }

  DumpRequest request_;
  DumpFailure failure_;
  std::vector<DiagRow> rows_;
};

Napi::Value TcpDiagDump(const Napi::CallbackInfo& info) {
  return PromiseWorker::Start<DumpWorker>(info.Env(), RequestArgs(info));
}

Napi::Value TcpDiagDumpSync(const Napi::CallbackInfo& info) {
  DumpRequest request = RequestArgs(info);
  std::vector<DiagRow> rows;
  DumpFailure failure;
  // node-addon-api passes on only Napi::Error: a std::bad_alloc from the row vector would
  // reach std::terminate. Out of memory is ENOMEM, as a failed syscall would say it.
  try {
    failure = Dump(request, &rows);
  } catch (const std::bad_alloc&) {
    failure = {ENOMEM, "sock_diag"};
  }
  if (failure.error != 0) throw ErrnoError(info.Env(), failure.error, failure.syscall);
  return ToArrayBuffer(info.Env(), rows);
}

}  // namespace

void InitDiag(Napi::Env env, Napi::Object exports) {
  exports.Set("tcpDiagDump", Napi::Function::New(env, TcpDiagDump, "tcpDiagDump"));
  exports.Set("tcpDiagDumpSync", Napi::Function::New(env, TcpDiagDumpSync, "tcpDiagDumpSync"));
  exports.Set("diagRowBytes", Napi::Number::New(env, sizeof(DiagRow)));
}

}  // namespace sockctl
