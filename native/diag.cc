// The TCP sockets of this host as the kernel lists them, the way ss(8) asks: sock_diag(7),
// netlink(7), inet_diag requests (SOCK_DIAG_BY_FAMILY, linux/inet_diag.h) with the state
// mask and the port filter (INET_DIAG_REQ_BYTECODE, diag_bytecode.h) evaluated in the
// kernel. One dump on a NETLINK_SOCK_DIAG socket of its own.
//
// Rows go back to JavaScript as one ArrayBuffer of fixed records (diag_row.h; lib/states/
// netlink.ts decodes them with the offsets exported here): one copy, no per-field Napi
// calls. tcpDiagLookup names one connection's 4-tuple without NLM_F_DUMP: the kernel looks
// it up in its hash tables (inet_diag_find_one_icsk) instead of walking them. tcpDiagDump does the work on
// libuv's thread pool (PromiseWorker) and resolves a promise; tcpDiagDumpSync blocks.
// Linux only: elsewhere both fail with ENOTSUP.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "diag_row.h"
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

#include "sys/diag_bytecode.h"
#endif

namespace sockctl {

namespace {

using diag::DiagRow;

constexpr int kIpv4 = diag::kRequestIpv4;
constexpr int kIpv6 = diag::kRequestIpv6;

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

// One connection named by its 4-tuple (and its cookie, or none): a request without
// NLM_F_DUMP, answered with that socket (TIME_WAIT included) or ENOENT, which is no row.
struct LookupRequest {
  bool ipv6;
  uint8_t local[16];
  uint8_t remote[16];
  uint16_t localPort;
  uint16_t remotePort;
  uint32_t cookie[2];  // INET_DIAG_NOCOOKIE in both words: any socket on the 4-tuple
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
  rows->push_back(diag::RowOf(message));
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

DumpFailure Lookup(const LookupRequest& request, std::vector<DiagRow>* rows) {
  NetlinkSocket socket;
  if (socket.fd() < 0) return Fail(errno, "socket");
  timeval timeout = {kReceiveTimeoutSeconds, 0};
  if (setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    return Fail(errno, "setsockopt");
  }
  struct {
    nlmsghdr header;
    inet_diag_req_v2 body;
  } message = {};
  uint32_t sequence = nextSequence.fetch_add(1);
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  message.header.nlmsg_seq = sequence;
  message.body.sdiag_family = request.ipv6 ? AF_INET6 : AF_INET;
  message.body.sdiag_protocol = IPPROTO_TCP;
  message.body.idiag_states = ~0U;  // ignored by a lookup
  message.body.id.idiag_sport = htons(request.localPort);
  message.body.id.idiag_dport = htons(request.remotePort);
  std::memcpy(message.body.id.idiag_src, request.local, request.ipv6 ? 16 : 4);
  std::memcpy(message.body.id.idiag_dst, request.remote, request.ipv6 ? 16 : 4);
  message.body.id.idiag_cookie[0] = request.cookie[0];
  message.body.id.idiag_cookie[1] = request.cookie[1];
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(socket.fd(), &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return Fail(errno, "sendto");

  uint64_t storage[1024];  // one row and its attributes fit easily; aligned for nlmsghdr
  for (int reads = 0; reads < 16; ++reads) {
    sockaddr_nl from = {};
    socklen_t fromLength = sizeof from;
    ssize_t received;
    do {
      received = recvfrom(socket.fd(), storage, sizeof storage, 0, reinterpret_cast<sockaddr*>(&from), &fromLength);
    } while (received < 0 && errno == EINTR);
    if (received < 0) return Fail(errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno, "recvfrom");
    if (from.nl_pid != 0) continue;
    int left = static_cast<int>(received);
    for (auto* reply = reinterpret_cast<nlmsghdr*>(storage); NLMSG_OK(reply, left); reply = NLMSG_NEXT(reply, left)) {
      if (reply->nlmsg_seq != sequence) continue;
      if (reply->nlmsg_type == NLMSG_ERROR) {
        if (reply->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return Fail(EBADMSG, "sock_diag");
        int error = -static_cast<const nlmsgerr*>(NLMSG_DATA(reply))->error;
        return error == 0 || error == ENOENT ? DumpFailure{} : Fail(error, "sock_diag");
      }
      if (reply->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      if (reply->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return Fail(EBADMSG, "sock_diag");
      AppendRow(*static_cast<const inet_diag_msg*>(NLMSG_DATA(reply)), rows);
      return {};
    }
  }
  return Fail(EBADMSG, "sock_diag");
}

#else

DumpFailure Dump(const DumpRequest&, std::vector<DiagRow>*) {
  DumpFailure failure;
  failure.error = ENOTSUP;
  failure.syscall = "sock_diag";
  return failure;
}

DumpFailure Lookup(const LookupRequest&, std::vector<DiagRow>*) {
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

// (ipv6, localAddress, localPort, remoteAddress, remotePort, cookie): cookie is 16 hex
// digits (high word first, as ss prints sk:) or '' for none. Checked in lib/states/ first.
Napi::Value TcpDiagLookupSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LookupRequest request = {};
  request.ipv6 = IntArg(info, 0, "ipv6") != 0;
  for (size_t index : {1, 3}) {
    if (info.Length() <= index || !info[index].IsString()) throw ArgTypeError(env, index == 1 ? "localAddress" : "remoteAddress", "of type string");
    std::string text = info[index].As<Napi::String>().Utf8Value();
    uint8_t* bytes = index == 1 ? request.local : request.remote;
#ifdef __linux__
    if (text.find('\0') != std::string::npos || inet_pton(request.ipv6 ? AF_INET6 : AF_INET, text.c_str(), bytes) != 1) {
      throw ErrnoError(env, EINVAL, "sock_diag");
    }
#else
    (void)bytes;
#endif
  }
  request.localPort = PortArg(info, 2, "localPort");
  request.remotePort = PortArg(info, 4, "remotePort");
  if (info.Length() <= 5 || !info[5].IsString()) throw ArgTypeError(env, "cookie", "of type string");
  std::string cookie = info[5].As<Napi::String>().Utf8Value();
  if (cookie.empty()) {
    request.cookie[0] = request.cookie[1] = 0xffffffffU;  // INET_DIAG_NOCOOKIE
  } else {
    if (cookie.size() > 16 || cookie.find_first_not_of("0123456789abcdef") != std::string::npos) {
      throw ErrnoError(env, EINVAL, "sock_diag");
    }
    unsigned long long value = std::stoull(cookie, nullptr, 16);
    request.cookie[0] = static_cast<uint32_t>(value);
    request.cookie[1] = static_cast<uint32_t>(value >> 32);
  }
  std::vector<DiagRow> rows;
  DumpFailure failure;
  try {
    failure = Lookup(request, &rows);
  } catch (const std::bad_alloc&) {  // as the sync dump: ENOMEM, never std::terminate
    failure = {ENOMEM, "sock_diag"};
  }
  if (failure.error != 0) throw ErrnoError(env, failure.error, failure.syscall);
  return ToArrayBuffer(env, rows);
}

// The rows of recorded sock_diag replies (netlink messages as the kernel sent them): what
// a dump does to each message, without a kernel, for the decoders' fixture tests.
Napi::Value DiagRowsFromMessages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<char> input = BufferArg(info, 0, "messages");
  std::vector<DiagRow> rows;
#ifdef __linux__
  std::vector<uint64_t> storage(input.Length() / sizeof(uint64_t) + 1);  // aligned for nlmsghdr
  // An empty Buffer's data may be null: memcpy must not be given it (UBSan's finding).
  if (input.Length() > 0) std::memcpy(storage.data(), input.Data(), input.Length());
  int left = static_cast<int>(input.Length());
  for (auto* message = reinterpret_cast<nlmsghdr*>(storage.data()); NLMSG_OK(message, left); message = NLMSG_NEXT(message, left)) {
    if (message->nlmsg_type != SOCK_DIAG_BY_FAMILY && message->nlmsg_type != TCPDIAG_GETSOCK) continue;
    if (message->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) throw ErrnoError(env, EBADMSG, "sock_diag");
    AppendRow(*static_cast<const inet_diag_msg*>(NLMSG_DATA(message)), &rows);
  }
#endif
  return ToArrayBuffer(env, rows);
}

// Where each field of a row is, so that JavaScript never keeps its own copy of the layout.
Napi::Object Layout(Napi::Env env) {
  Napi::Object layout = Napi::Object::New(env);
  Napi::Object offsets = Napi::Object::New(env);
#define SOCKCTL_OFFSET(field) offsets.Set(#field, Napi::Number::New(env, offsetof(DiagRow, field)))
  SOCKCTL_OFFSET(family);
  SOCKCTL_OFFSET(state);
  SOCKCTL_OFFSET(timer);
  SOCKCTL_OFFSET(retransmits);
  SOCKCTL_OFFSET(expiresMs);
  SOCKCTL_OFFSET(recvQ);
  SOCKCTL_OFFSET(sendQ);
  SOCKCTL_OFFSET(uid);
  SOCKCTL_OFFSET(inode);
  SOCKCTL_OFFSET(localPort);
  SOCKCTL_OFFSET(remotePort);
  SOCKCTL_OFFSET(local);
  SOCKCTL_OFFSET(remote);
  SOCKCTL_OFFSET(cookieLow);
  SOCKCTL_OFFSET(cookieHigh);
#undef SOCKCTL_OFFSET
  layout.Set("rowBytes", Napi::Number::New(env, sizeof(DiagRow)));
  layout.Set("offsets", offsets);
  Napi::Object rowFamilies = Napi::Object::New(env);
  rowFamilies.Set("ipv4", Napi::Number::New(env, diag::kRowIpv4));
  rowFamilies.Set("ipv6", Napi::Number::New(env, diag::kRowIpv6));
  layout.Set("rowFamilies", rowFamilies);
  Napi::Object requestFamilies = Napi::Object::New(env);
  requestFamilies.Set("ipv4", Napi::Number::New(env, diag::kRequestIpv4));
  requestFamilies.Set("ipv6", Napi::Number::New(env, diag::kRequestIpv6));
  layout.Set("requestFamilies", requestFamilies);
  Napi::Object timers = Napi::Object::New(env);
  timers.Set("none", Napi::Number::New(env, diag::kTimerNone));
  timers.Set("retransmit", Napi::Number::New(env, diag::kTimerRetransmit));
  timers.Set("keepalive", Napi::Number::New(env, diag::kTimerKeepalive));
  timers.Set("timewait", Napi::Number::New(env, diag::kTimerTimeWait));
  timers.Set("persist", Napi::Number::New(env, diag::kTimerPersist));
  layout.Set("timers", timers);
  return layout;
}

}  // namespace

void InitDiag(Napi::Env env, Napi::Object exports) {
  exports.Set("tcpDiagDump", Napi::Function::New(env, TcpDiagDump, "tcpDiagDump"));
  exports.Set("tcpDiagDumpSync", Napi::Function::New(env, TcpDiagDumpSync, "tcpDiagDumpSync"));
  exports.Set("tcpDiagLookupSync", Napi::Function::New(env, TcpDiagLookupSync, "tcpDiagLookupSync"));
  exports.Set("diagRowBytes", Napi::Number::New(env, sizeof(DiagRow)));
  exports.Set("diagLayout", Layout(env));
  exports.Set("diagRowsFromMessages", Napi::Function::New(env, DiagRowsFromMessages, "diagRowsFromMessages"));
}

}  // namespace sockctl
