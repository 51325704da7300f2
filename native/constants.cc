// This platform's socket numbers: socket(2), socket(7), tcp(7), ip(7), ipv6(7), shutdown(2).
// POSIX's here, the rest from the platform (sys::AddConstants). A name this platform lacks
// is simply absent, so lib/core/options.ts can say ENOPROTOOPT instead of passing a wrong
// number to the kernel.
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "init.h"
#include "sys/sys.h"

namespace sockctl {

void InitConstants(Napi::Env env, Napi::Object exports) {
  Napi::Object c = Napi::Object::New(env);
#define SOCKCTL_CONSTANT(name) c.Set(#name, Napi::Number::New(env, name));
  SOCKCTL_CONSTANT(AF_INET)
  SOCKCTL_CONSTANT(AF_INET6)
  SOCKCTL_CONSTANT(SOCK_STREAM)
  SOCKCTL_CONSTANT(SOCK_DGRAM)
  SOCKCTL_CONSTANT(SOL_SOCKET)
  SOCKCTL_CONSTANT(IPPROTO_IP)
  SOCKCTL_CONSTANT(IPPROTO_IPV6)
  SOCKCTL_CONSTANT(IPPROTO_TCP)
  SOCKCTL_CONSTANT(IPPROTO_UDP)
  SOCKCTL_CONSTANT(SHUT_RD)
  SOCKCTL_CONSTANT(SHUT_WR)
  SOCKCTL_CONSTANT(SHUT_RDWR)
  SOCKCTL_CONSTANT(SO_REUSEADDR)
  SOCKCTL_CONSTANT(SO_KEEPALIVE)
  SOCKCTL_CONSTANT(SO_BROADCAST)
  SOCKCTL_CONSTANT(SO_OOBINLINE)
  SOCKCTL_CONSTANT(SO_RCVBUF)
  SOCKCTL_CONSTANT(SO_SNDBUF)
  SOCKCTL_CONSTANT(SO_RCVLOWAT)
  SOCKCTL_CONSTANT(SO_LINGER)
  SOCKCTL_CONSTANT(SO_ERROR)
  SOCKCTL_CONSTANT(SO_TYPE)
  SOCKCTL_CONSTANT(TCP_NODELAY)
  SOCKCTL_CONSTANT(TCP_MAXSEG)
  SOCKCTL_CONSTANT(IP_TTL)
  SOCKCTL_CONSTANT(IP_TOS)
  SOCKCTL_CONSTANT(IPV6_V6ONLY)
#undef SOCKCTL_CONSTANT
  sys::AddConstants(env, c);
  exports.Set("constants", c);
}

}  // namespace sockctl
