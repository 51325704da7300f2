// fstat(2) for the prebuilds: glibc 2.33 made fstat a symbol of its own (fstat64@GLIBC_2.33),
// which a system with an older glibc cannot load. On 64-bit Linux the kernel's struct stat
// is glibc's, so the system call itself keeps the binary at GLIBC_2.28.
#pragma once

#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

namespace sockctl {

inline int FileStat(int fd, struct stat* st) {
#if defined(__linux__) && defined(SYS_fstat) && (defined(__x86_64__) || defined(__aarch64__))
  return static_cast<int>(syscall(SYS_fstat, fd, st));
#else
  return fstat(fd, st);
#endif
}

}  // namespace sockctl
