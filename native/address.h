// The one checked builder of an IP socket address from JavaScript's arguments, for
// bind(2), connect(2) and the sock_diag lookup: getaddrinfo(3) with AI_NUMERICHOST (a
// literal only, the scope of fe80::1%eth0 included: names are resolved in TypeScript, never
// a DNS query here), ip(7), ipv6(7).
#pragma once

#include <napi.h>
#include <sys/socket.h>

namespace sockctl {

struct InetAddress {
  sockaddr_storage storage;
  socklen_t length;
  int family;  // AF_INET or AF_INET6

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  // The address bytes in network order (4 for IPv4, 16 for IPv6).
  const void* bytes() const;
};

// info[addressIndex] (a string) and info[portIndex] (0..65535). A non-string is
// ERR_INVALID_ARG_TYPE, a NUL byte ERR_INVALID_ARG_VALUE (c_str() would end the address
// there: "127.0.0.1\0anything" must not name 127.0.0.1), a port out of range
// ERR_OUT_OF_RANGE, and anything but a numeric literal EINVAL from `syscall`.
InetAddress InetAddressArg(const Napi::CallbackInfo& info, size_t addressIndex, const char* addressName, size_t portIndex,
                           const char* portName, const char* syscall);

}  // namespace sockctl
