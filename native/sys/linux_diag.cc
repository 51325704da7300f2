// sock_diag(7) on Linux: the TCP sockets of this host as the kernel lists them, the way
// ss(8) asks: netlink(7), inet_diag requests (SOCK_DIAG_BY_FAMILY, linux/inet_diag.h) with
// the state mask and the port filter (INET_DIAG_REQ_BYTECODE, diag_bytecode.h) evaluated
// in the kernel, one dump on a NETLINK_SOCK_DIAG socket of its own; a lookup by 4-tuple
// without NLM_F_DUMP (the kernel's inet_diag_find_one_icsk looks in its hash tables
// instead of walking them), on a socket its caller keeps (environment.cc: one per Node
// environment); the destroy events' socket. The seam is sys.h; diag.cc and
// events.cc hold what every platform shares.
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "../owned_fd.h"
#include "diag_bytecode.h"
#include "sys.h"

namespace sockctl::sys {

namespace {

using diag::DiagExtra;
using diag::DiagRow;

constexpr int kIpv4 = diag::kRequestIpv4;
constexpr int kIpv6 = diag::kRequestIpv6;
constexpr size_t kReceiveBytes = 64 * 1024;  // the kernel fills at most 32 KiB per read
constexpr int kMaxReceives = 1 << 16;        // ~370 sockets a read: far beyond any real table
constexpr time_t kReceiveTimeoutSeconds = 10;

std::atomic<uint32_t> nextSequence{1};
std::atomic<size_t> lastDumpRows{0};  // DiagDump's size hint

// inet_diag_msg as a row of diag_row.h.
DiagRow RowOf(const inet_diag_msg& message) {
  DiagRow row = {};
  bool ipv6 = message.idiag_family == AF_INET6;
  row.family = ipv6 ? diag::kRowIpv6 : diag::kRowIpv4;
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
  row.cookieLow = message.id.idiag_cookie[0];
  row.cookieHigh = message.id.idiag_cookie[1];
  return row;
}

// INET_DIAG_SKV6ONLY among the attributes after the message (the kernel adds it to every
// AF_INET6 socket's reply, whatever the request's extensions). `message` is a whole
// netlink message whose length was checked to hold an inet_diag_msg.
uint32_t V6onlyOf(const nlmsghdr* message) {
  const char* base = reinterpret_cast<const char*>(message);
  const char* at = base + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(inet_diag_msg)));
  const char* end = base + message->nlmsg_len;
  while (at + sizeof(nlattr) <= end) {
    nlattr attribute;
    std::memcpy(&attribute, at, sizeof attribute);
    if (attribute.nla_len < sizeof(nlattr) || attribute.nla_len > end - at) break;
    if ((attribute.nla_type & NLA_TYPE_MASK) == INET_DIAG_SKV6ONLY && attribute.nla_len >= NLA_HDRLEN + 1) {
      return at[NLA_HDRLEN] != 0 ? diag::kV6onlyOn : diag::kV6onlyOff;
    }
    at += NLA_ALIGN(attribute.nla_len);
  }
  return diag::kV6onlyUnknown;
}

// A row from a whole reply message: the inet_diag_msg and what its attributes add.
DiagRow RowOf(const nlmsghdr* message) {
  DiagRow row = RowOf(*static_cast<const inet_diag_msg*>(NLMSG_DATA(message)));
  row.v6only = V6onlyOf(message);
  return row;
}

// A dump's own netlink socket, closed once on every path.
OwnedFd NetlinkSocket() { return OwnedFd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)); }

Failure Fail(int error, const char* syscall) {
  Failure failure;
  failure.error = error;
  failure.syscall = syscall;
  return failure;
}

// `family` AF_INET or AF_INET6: a SOCK_DIAG_BY_FAMILY request. AF_UNSPEC (both families):
// the older TCPDIAG_GETSOCK request, which the kernel still serves (inet_diag_rcv_msg_compat)
// with one walk of the socket tables for both families instead of one walk per family.
Failure SendRequest(int fd, uint8_t family, const DumpRequest& request, uint32_t sequence) {
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
    message.body.both.idiag_ext = request.extensions;
  } else {
    headerBytes = NLMSG_LENGTH(sizeof(inet_diag_req_v2));
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.body.byFamily.sdiag_family = family;
    message.body.byFamily.sdiag_protocol = request.udp ? IPPROTO_UDP : IPPROTO_TCP;
    message.body.byFamily.idiag_states = request.states;
    message.body.byFamily.idiag_ext = request.extensions;
  }
  // The request's own ports are tested on each TCP socket before the bytecode runs
  // (inet_diag_dump_icsk: a compare where the bytecode builds an entry and walks its ops),
  // which is most of a port's dump on a host with tens of thousands of other sockets. The
  // bytecode stays: UDP's dump (udp_dump) ignores these fields, and anyPort has none.
  inet_diag_sockid& id = family == AF_UNSPEC ? message.body.both.id : message.body.byFamily.id;
  id.idiag_sport = htons(request.localPort);
  id.idiag_dport = htons(request.remotePort);
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

void AppendRow(const nlmsghdr* message, std::vector<DiagRow>* rows) {
  rows->push_back(RowOf(message));
}

// The attributes an extended request asked for, of one reply message (whose length was
// checked to hold an inet_diag_msg).
DiagExtra ExtraOf(const nlmsghdr* message) {
  DiagExtra extra = {};
  const char* base = reinterpret_cast<const char*>(message);
  const char* at = base + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(inet_diag_msg)));
  const char* end = base + message->nlmsg_len;
  while (at + sizeof(nlattr) <= end) {
    nlattr attribute;
    std::memcpy(&attribute, at, sizeof attribute);
    if (attribute.nla_len < sizeof(nlattr) || attribute.nla_len > end - at) break;
    const char* payload = at + NLA_HDRLEN;
    size_t bytes = attribute.nla_len - NLA_HDRLEN;
    switch (attribute.nla_type & NLA_TYPE_MASK) {
      case INET_DIAG_INFO:
        extra.infoBytes = static_cast<uint32_t>(std::min(bytes, diag::kInfoBytes));
        std::memcpy(extra.info, payload, extra.infoBytes);
        break;
      case INET_DIAG_CONG:
        std::memcpy(extra.congestion, payload, std::min(bytes, diag::kCongestionBytes - 1));
        break;
      case INET_DIAG_SKMEMINFO:
        extra.memoryWords = static_cast<uint32_t>(std::min(bytes / sizeof(uint32_t), diag::kMemoryWords));
        std::memcpy(extra.memory, payload, extra.memoryWords * sizeof(uint32_t));
        break;
      default:
        break;
    }
    at += NLA_ALIGN(attribute.nla_len);
  }
  return extra;
}

// Reads the replies (of `type`, each at least `minimum` bytes of payload) to `sequence`
// until NLMSG_DONE, handing each to `onMessage`; a bounded number of reads,
// each bounded by SO_RCVTIMEO.
template <typename OnMessage>
Failure ReceiveMessages(int fd, uint32_t sequence, uint16_t type, size_t minimum, OnMessage onMessage) {
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
      if (message->nlmsg_len < NLMSG_LENGTH(minimum)) return Fail(EBADMSG, "sock_diag");
      onMessage(message);
    }
  }
  return Fail(EOVERFLOW, "recvmsg");
}

Failure ReceiveRows(int fd, uint32_t sequence, uint16_t type, std::vector<DiagRow>* rows, std::vector<DiagExtra>* extras) {
  return ReceiveMessages(fd, sequence, type, sizeof(inet_diag_msg), [&](const nlmsghdr* message) {
    AppendRow(message, rows);
    if (extras != nullptr) extras->push_back(ExtraOf(message));
  });
}

// A UNIX socket's reply: the message, its name, its peer, its queues.
diag::UnixRow UnixRowOf(const nlmsghdr* message) {
  diag::UnixRow row = {};
  unix_diag_msg head;
  std::memcpy(&head, NLMSG_DATA(message), sizeof head);
  row.type = head.udiag_type;
  row.state = head.udiag_state;
  row.inode = head.udiag_ino;
  const char* base = reinterpret_cast<const char*>(message);
  const char* at = base + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(unix_diag_msg)));
  const char* end = base + message->nlmsg_len;
  while (at + sizeof(nlattr) <= end) {
    nlattr attribute;
    std::memcpy(&attribute, at, sizeof attribute);
    if (attribute.nla_len < sizeof(nlattr) || attribute.nla_len > end - at) break;
    const char* payload = at + NLA_HDRLEN;
    size_t bytes = attribute.nla_len - NLA_HDRLEN;
    switch (attribute.nla_type & NLA_TYPE_MASK) {
      case UNIX_DIAG_NAME:
        row.pathBytes = static_cast<uint16_t>(std::min(bytes, diag::kUnixPathBytes));
        std::memcpy(row.path, payload, row.pathBytes);
        break;
      case UNIX_DIAG_PEER:
        if (bytes >= sizeof(uint32_t)) std::memcpy(&row.peerInode, payload, sizeof(uint32_t));
        break;
      case UNIX_DIAG_RQLEN:
        if (bytes >= sizeof(unix_diag_rqlen)) {
          unix_diag_rqlen queues;
          std::memcpy(&queues, payload, sizeof queues);
          row.recvQ = queues.udiag_rqueue;
          row.sendQ = queues.udiag_wqueue;
        }
        break;
      default:
        break;
    }
    at += NLA_ALIGN(attribute.nla_len);
  }
  return row;
}

}  // namespace

Failure DiagDump(const DumpRequest& request, std::vector<DiagRow>* rows, std::vector<DiagExtra>* extras) {
  if (request.families == 0) return {};
  OwnedFd socket = NetlinkSocket();
  if (!socket.valid()) return Fail(errno, "socket");
  timeval timeout = {kReceiveTimeoutSeconds, 0};
  if (setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    return Fail(errno, "setsockopt");
  }
  // Room for as many rows as the last dump had, and a quarter more: a table of thousands of
  // rows grows the vector once, not a dozen times (each a copy into memory not yet touched).
  size_t hint = lastDumpRows.load(std::memory_order_relaxed);
  rows->reserve(hint + hint / 4 + 16);
  std::vector<DiagExtra>* wanted = request.extensions != 0 ? extras : nullptr;
  if (request.udp) {
    // TCPDIAG_GETSOCK serves TCP only: UDP is asked family by family.
    for (uint8_t each : {AF_INET, AF_INET6}) {
      if ((request.families & (each == AF_INET ? kIpv4 : kIpv6)) == 0) continue;
      uint32_t sequence = nextSequence.fetch_add(1);
      Failure failure = SendRequest(socket.get(), each, request, sequence);
      if (failure.error == 0) failure = ReceiveRows(socket.get(), sequence, SOCK_DIAG_BY_FAMILY, rows, wanted);
      if (failure.error != 0) return failure;
    }
    return {};
  }
  uint8_t family = request.families == kIpv4 ? AF_INET : request.families == kIpv6 ? AF_INET6 : AF_UNSPEC;
  uint32_t sequence = nextSequence.fetch_add(1);
  Failure failure = SendRequest(socket.get(), family, request, sequence);
  if (failure.error != 0) return failure;
  // Replies carry the request's type.
  failure = ReceiveRows(socket.get(), sequence, family == AF_UNSPEC ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY, rows, wanted);
  lastDumpRows.store(rows->size(), std::memory_order_relaxed);
  return failure;
}

int OpenLookupSocket(const char** syscall) noexcept {
  OwnedFd fd = NetlinkSocket();
  if (!fd.valid()) {
    *syscall = "socket";
    return -errno;
  }
  timeval timeout = {kReceiveTimeoutSeconds, 0};
  if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    *syscall = "setsockopt";
    return -errno;
  }
  return fd.Release();
}

namespace {

// One socket named by its 4-tuple and cookie: a lookup (SOCK_DIAG_BY_FAMILY) or a destroy
// (SOCK_DESTROY, acknowledged).
Failure SendOne(int fd, uint16_t type, uint16_t flags, const LookupRequest& request, uint32_t sequence) {
  struct {
    nlmsghdr header;
    inet_diag_req_v2 body;
  } message = {};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = type;
  message.header.nlmsg_flags = flags;
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
    sent = sendto(fd, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return Fail(errno, "sendto");
  return {};
}

}  // namespace

// SOCK_DESTROY (what ss -K sends; CAP_NET_ADMIN in the socket's network namespace): the
// kernel aborts the socket (tcp_abort: an RST to the peer) and acknowledges.
Failure DiagDestroy(int fd, const LookupRequest& request) {
  uint32_t sequence = nextSequence.fetch_add(1);
  Failure failure = SendOne(fd, SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, request, sequence);
  if (failure.error != 0) return failure;
  uint64_t storage[512];  // aligned for nlmsghdr
  for (int reads = 0; reads < 16; ++reads) {
    sockaddr_nl from = {};
    socklen_t fromLength = sizeof from;
    ssize_t received;
    do {
      received = recvfrom(fd, storage, sizeof storage, 0, reinterpret_cast<sockaddr*>(&from), &fromLength);
    } while (received < 0 && errno == EINTR);
    if (received < 0) return Fail(errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno, "recvfrom");
    if (from.nl_pid != 0) continue;
    int left = static_cast<int>(received);
    for (auto* reply = reinterpret_cast<nlmsghdr*>(storage); NLMSG_OK(reply, left); reply = NLMSG_NEXT(reply, left)) {
      if (reply->nlmsg_seq != sequence || reply->nlmsg_type != NLMSG_ERROR) continue;
      if (reply->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return Fail(EBADMSG, "sock_diag");
      int error = -static_cast<const nlmsgerr*>(NLMSG_DATA(reply))->error;
      return error == 0 ? Failure{} : Fail(error, "sock_destroy");
    }
  }
  return Fail(EBADMSG, "sock_diag");
}

Failure UnixDump(std::vector<diag::UnixRow>* rows) {
  OwnedFd socket = NetlinkSocket();
  if (!socket.valid()) return Fail(errno, "socket");
  timeval timeout = {kReceiveTimeoutSeconds, 0};
  if (setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) return Fail(errno, "setsockopt");
  struct {
    nlmsghdr header;
    unix_diag_req body;
  } message = {};
  uint32_t sequence = nextSequence.fetch_add(1);
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = sequence;
  message.body.sdiag_family = AF_UNIX;
  message.body.udiag_states = ~0U;
  message.body.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN;
  message.body.udiag_cookie[0] = message.body.udiag_cookie[1] = kNoCookie;
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(socket.get(), &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return Fail(errno, "sendto");
  return ReceiveMessages(socket.get(), sequence, SOCK_DIAG_BY_FAMILY, sizeof(unix_diag_msg),
                         [&](const nlmsghdr* reply) { rows->push_back(UnixRowOf(reply)); });
}

Failure DiagLookup(int fd, const LookupRequest& request, std::vector<DiagRow>* rows) {
  uint32_t sequence = nextSequence.fetch_add(1);
  Failure failure = SendOne(fd, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, request, sequence);
  if (failure.error != 0) return failure;

  uint64_t storage[1024];  // one row and its attributes fit easily; aligned for nlmsghdr
  for (int reads = 0; reads < 16; ++reads) {
    sockaddr_nl from = {};
    socklen_t fromLength = sizeof from;
    ssize_t received;
    do {
      received = recvfrom(fd, storage, sizeof storage, 0, reinterpret_cast<sockaddr*>(&from), &fromLength);
    } while (received < 0 && errno == EINTR);
    if (received < 0) return Fail(errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno, "recvfrom");
    if (from.nl_pid != 0) continue;
    int left = static_cast<int>(received);
    for (auto* reply = reinterpret_cast<nlmsghdr*>(storage); NLMSG_OK(reply, left); reply = NLMSG_NEXT(reply, left)) {
      if (reply->nlmsg_seq != sequence) continue;
      if (reply->nlmsg_type == NLMSG_ERROR) {
        if (reply->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return Fail(EBADMSG, "sock_diag");
        int error = -static_cast<const nlmsgerr*>(NLMSG_DATA(reply))->error;
        return error == 0 || error == ENOENT ? Failure{} : Fail(error, "sock_diag");
      }
      if (reply->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      if (reply->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return Fail(EBADMSG, "sock_diag");
      AppendRow(reply, rows);
      return {};
    }
  }
  return Fail(EBADMSG, "sock_diag");
}

Failure DiagRowsOf(const char* messages, size_t length, std::vector<DiagRow>* rows) {
  std::vector<uint64_t> storage(length / sizeof(uint64_t) + 1);  // aligned for nlmsghdr
  if (length > 0) std::memcpy(storage.data(), messages, length);  // an empty Buffer's data may be null
  int left = static_cast<int>(length);
  for (auto* message = reinterpret_cast<nlmsghdr*>(storage.data()); NLMSG_OK(message, left); message = NLMSG_NEXT(message, left)) {
    if (message->nlmsg_type != SOCK_DIAG_BY_FAMILY && message->nlmsg_type != TCPDIAG_GETSOCK) continue;
    if (message->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return Fail(EBADMSG, "sock_diag");
    AppendRow(message, rows);
  }
  return {};
}

int OpenDestroyEvents(const char** syscall) noexcept {
  OwnedFd fd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG));
  if (!fd.valid()) {
    *syscall = "socket";
    return -errno;
  }
  // Joined at bind(2): NETLINK_ADD_MEMBERSHIP on a socket never bound is accepted but
  // receives nothing (measured on 6.18), as ss -E binds too.
  sockaddr_nl self = {};
  self.nl_family = AF_NETLINK;
  self.nl_groups = (1U << (SKNLGRP_INET_TCP_DESTROY - 1)) | (1U << (SKNLGRP_INET6_TCP_DESTROY - 1));
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&self), sizeof self) != 0) {
    *syscall = "bind";
    return -errno;
  }
  return fd.Release();
}

void DestroyEventRows(const char* buffer, size_t length, std::vector<DiagRow>* rows) {
  int left = static_cast<int>(length);
  for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer); NLMSG_OK(message, left); message = NLMSG_NEXT(message, left)) {
    if (message->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
    if (message->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
    rows->push_back(RowOf(message));
  }
}

}  // namespace sockctl::sys
