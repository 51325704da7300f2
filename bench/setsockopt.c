// Baseline for bench/options.mjs: ns per setsockopt(TCP_NODELAY) call on an unbound TCP
// socket, the same loop the JavaScript side runs. Usage: setsockopt ITERATIONS ROUNDS
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char** argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 200000;
  int rounds = argc > 2 ? atoi(argv[2]) : 7;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return perror("socket"), 1;
  for (int r = 0; r < rounds; r++) {
    double start = now_ns();
    for (long i = 0; i < iterations; i++) {
      int value = (int)(i & 1);
      if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, sizeof value) != 0) return perror("setsockopt"), 1;
    }
    printf("%.1f\n", (now_ns() - start) / iterations);
  }
  close(fd);
  return 0;
}
