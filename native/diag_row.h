// One socket of a sock_diag answer (sock_diag(7), linux/inet_diag.h struct inet_diag_msg)
// as the addon hands it to JavaScript: fixed records in one ArrayBuffer. The layout is
// exported (diagLayout, diag.cc) and lib/states/netlink.ts reads the offsets from there,
// so this struct is the one source of them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sockctl::diag {

// Native byte order, except the addresses (network order; IPv4 in the first 4 bytes).
struct DiagRow {
  uint8_t family;       // kRowIpv4 or kRowIpv6
  uint8_t state;        // include/net/tcp_states.h
  uint8_t timer;        // kTimer* below (inet_diag_msg.idiag_timer)
  uint8_t retransmits;
  uint32_t expiresMs;
  uint32_t recvQ;
  uint32_t sendQ;
  uint32_t uid;
  uint32_t inode;
  uint16_t localPort;
  uint16_t remotePort;
  uint8_t local[16];
  uint8_t remote[16];
  uint32_t cookieLow;   // idiag_cookie[0]
  uint32_t cookieHigh;  // idiag_cookie[1]
  uint32_t v6only;      // kV6only* below: IPV6_V6ONLY of an AF_INET6 socket (INET_DIAG_SKV6ONLY)
};
static_assert(sizeof(DiagRow) == 72, "a row is 72 bytes: 4-byte fields stay aligned");

// What a dump asked for with extensions adds to a row (sock_diag(7) attributes), in a second
// ArrayBuffer beside the rows, one record each: INET_DIAG_INFO (struct tcp_info, as
// getsockopt(TCP_INFO) gives it: as many bytes as the kernel sent, up to kInfoBytes),
// INET_DIAG_CONG (the congestion control's name) and INET_DIAG_SKMEMINFO (SK_MEMINFO_*).
// A field the reply did not carry (a TIME_WAIT row carries none) has length 0.
constexpr size_t kInfoBytes = 256;
constexpr size_t kCongestionBytes = 16;
constexpr size_t kMemoryWords = 12;
struct DiagExtra {
  uint32_t infoBytes;    // 0: no INET_DIAG_INFO
  uint32_t memoryWords;  // 0: no INET_DIAG_SKMEMINFO
  char congestion[kCongestionBytes];  // NUL-terminated; empty: no INET_DIAG_CONG
  uint32_t memory[kMemoryWords];
  uint8_t info[kInfoBytes];
};
static_assert(sizeof(DiagExtra) % 8 == 0, "records stay aligned");

// The extensions a request may ask for: bits of idiag_ext (1 << (INET_DIAG_x - 1)).
constexpr int kExtensionInfo = 1 << (2 - 1);      // INET_DIAG_INFO
constexpr int kExtensionCongestion = 1 << (4 - 1);  // INET_DIAG_CONG
constexpr int kExtensionMemory = 1 << (7 - 1);    // INET_DIAG_SKMEMINFO

// One UNIX socket (sock_diag(7) for AF_UNIX, linux/unix_diag.h: struct unix_diag_msg and the
// attributes UNIX_DIAG_NAME, UNIX_DIAG_PEER, UNIX_DIAG_RQLEN), as `ss -x` lists them.
constexpr size_t kUnixPathBytes = 108;  // sun_path
struct UnixRow {
  uint8_t type;        // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
  uint8_t state;       // include/net/tcp_states.h numbers: LISTEN, ESTABLISHED, CLOSE (unconnected)
  uint16_t pathBytes;  // 0: no name; an abstract name starts with a NUL byte
  uint32_t inode;
  uint32_t peerInode;  // 0: no peer
  uint32_t recvQ;      // a listener: connections waiting; else bytes received, not read
  uint32_t sendQ;      // a listener: the backlog; else bytes sent, not yet read by the peer
  uint8_t path[kUnixPathBytes];
};
static_assert(sizeof(UnixRow) == 128, "a UNIX row is 128 bytes");

// DiagRow.family.
constexpr uint8_t kRowIpv4 = 4;
constexpr uint8_t kRowIpv6 = 6;
// The families argument of a request: a mask.
constexpr int kRequestIpv4 = 1;
constexpr int kRequestIpv6 = 2;
// DiagRow.timer, as the kernel numbers them (net/ipv4/inet_diag.c, and the "tr" column of
// /proc/net/tcp): none, retransmit (also SYN-ACK), keepalive (also orphaned FIN_WAIT_2),
// TIME_WAIT, zero-window probe.
constexpr uint8_t kTimerNone = 0;
constexpr uint8_t kTimerRetransmit = 1;
constexpr uint8_t kTimerKeepalive = 2;
constexpr uint8_t kTimerTimeWait = 3;
constexpr uint8_t kTimerPersist = 4;
// DiagRow.v6only: the reply carried no INET_DIAG_SKV6ONLY (an IPv4 socket, a destroy event),
// or it said off (dual-stack) or on.
constexpr uint32_t kV6onlyUnknown = 0;
constexpr uint32_t kV6onlyOff = 1;
constexpr uint32_t kV6onlyOn = 2;

}  // namespace sockctl::diag
