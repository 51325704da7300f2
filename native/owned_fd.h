// The one owner of a descriptor in native code: close(2) once, on every path (an early
// return, a throw), unless handed on. A descriptor made for JavaScript goes to the
// environment with ForJavaScript() (environment.h, rule 2); one kept natively (a dump's
// netlink socket, a watched descriptor) stays in its OwnedFd until it closes.
#pragma once

#include <unistd.h>

#include <utility>

namespace sockctl {

class OwnedFd {
 public:
  OwnedFd() noexcept = default;
  explicit OwnedFd(int fd) noexcept : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.Release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() { Reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }

  // The number, no longer closed here: its new owner closes it.
  int Release() noexcept { return std::exchange(fd_, -1); }

  // Closes what it holds (never retried on EINTR: on Linux the number is gone by then) and
  // holds `fd` instead.
  void Reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace sockctl
