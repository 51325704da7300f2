// The one checked builder of an IP socket address (address.h): getaddrinfo(3).
#include "address.h"

#include <netdb.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "addrinfo.h"
#include "errors.h"

namespace sockctl {

const void* InetAddress::bytes() const {
  if (family == AF_INET6) return &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr;
  return &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr;
}

InetAddress InetAddressArg(const Napi::CallbackInfo& info, size_t addressIndex, const char* addressName, size_t portIndex,
                           const char* portName, const char* syscall) {
  Napi::Env env = info.Env();
  if (info.Length() <= addressIndex || !info[addressIndex].IsString()) throw ArgTypeError(env, addressName, "of type string");
  std::string address = info[addressIndex].As<Napi::String>().Utf8Value();
  if (address.find('\0') != std::string::npos) {
    Napi::TypeError e = Napi::TypeError::New(env, std::string("The argument '") + addressName + "' must be an IP address without null bytes");
    e.Set("code", "ERR_INVALID_ARG_VALUE");
    throw e;
  }
  std::string port = std::to_string(PortArg(info, portIndex, portName));
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  AddrInfoList list;
  if (getaddrinfo(address.c_str(), port.c_str(), &hints, &list.head) != 0 || list.head == nullptr ||
      (list.head->ai_family != AF_INET && list.head->ai_family != AF_INET6) || list.head->ai_addrlen > sizeof(sockaddr_storage)) {
    throw ErrnoError(env, EINVAL, syscall);
  }
  InetAddress result = {};
  std::memcpy(&result.storage, list.head->ai_addr, list.head->ai_addrlen);
  result.length = static_cast<socklen_t>(list.head->ai_addrlen);
  result.family = list.head->ai_family;
  return result;
}

}  // namespace sockctl
