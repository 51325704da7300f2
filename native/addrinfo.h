// getaddrinfo(3)'s list, freed (freeaddrinfo) on every path out of the caller.
#pragma once

#include <netdb.h>

namespace sockctl {

struct AddrInfoList {
  addrinfo* head = nullptr;
  AddrInfoList() = default;
  AddrInfoList(const AddrInfoList&) = delete;
  AddrInfoList& operator=(const AddrInfoList&) = delete;
  ~AddrInfoList() {
    if (head != nullptr) freeaddrinfo(head);
  }
};

}  // namespace sockctl
