// The baseline for bench/states.mjs: the same sock_diag request tcpStates sends (the
// TCPDIAG_GETSOCK dump of both families with a state mask and the port filter of
// native/diag_bytecode.h, and the local port in the request's own id, so the kernel does the
// same work), rows read in place from the receive buffer, nothing copied. Prints "<rows>
// <nanoseconds> <checksum bit> <CPU nanoseconds>" for one dump, timed from socket() to
// NLMSG_DONE (process start-up not included): wall clock, and this process's CPU time
// (user + system) over the same span.
// sock_diag(7), netlink(7).
// Build: g++ -O2 -std=c++17 -Inative -Inative/sys bench/diag-dump.cc -o diag-dump
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "diag_bytecode.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: diag-dump LOCAL_PORT STATE_MASK\n");
    return 2;
  }
  unsigned short port = static_cast<unsigned short>(std::atoi(argv[1]));
  unsigned states = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 0));
  sockctl::diag::Bytecode filter = sockctl::diag::PortFilter(port, 0, 0);

  timespec start, end, cpuStart, cpuEnd;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpuStart);
  clock_gettime(CLOCK_MONOTONIC, &start);
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return perror("socket"), 1;
  struct {
    nlmsghdr header;
    inet_diag_req body;
  } message = {};
  nlattr attribute = {};
  attribute.nla_type = INET_DIAG_REQ_BYTECODE;
  attribute.nla_len = static_cast<unsigned short>(NLA_HDRLEN + sockctl::diag::Bytes(filter));
  message.header.nlmsg_len = NLMSG_LENGTH(sizeof(inet_diag_req)) + attribute.nla_len;
  message.header.nlmsg_type = TCPDIAG_GETSOCK;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = 1;
  message.body.idiag_states = states;
  message.body.id.idiag_sport = htons(port);  // as tcpStates asks: the kernel's cheap first test
  iovec parts[3] = {{&message, NLMSG_LENGTH(sizeof(inet_diag_req))}, {&attribute, sizeof attribute}, {filter.data(), static_cast<size_t>(sockctl::diag::Bytes(filter))}};
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  msghdr header = {};
  header.msg_name = &kernel;
  header.msg_namelen = sizeof kernel;
  header.msg_iov = parts;
  header.msg_iovlen = 3;
  if (sendmsg(fd, &header, 0) < 0) return perror("sendmsg"), 1;

  static long long buffer[64 * 1024 / sizeof(long long)];
  long rows = 0;
  unsigned long long touched = 0;  // read every row's fields, as a decoder would
  for (bool done = false; !done;) {
    ssize_t got = recv(fd, buffer, sizeof buffer, 0);
    if (got < 0) return perror("recv"), 1;
    int left = static_cast<int>(got);
    for (nlmsghdr* m = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(m, left); m = NLMSG_NEXT(m, left)) {
      if (m->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      if (m->nlmsg_type == NLMSG_ERROR) return std::fprintf(stderr, "sock_diag error\n"), 1;
      const inet_diag_msg* row = static_cast<const inet_diag_msg*>(NLMSG_DATA(m));
      // The fields the JavaScript side reads of every row: state, addresses, ports, cookie, queues.
      touched += row->idiag_state + row->id.idiag_sport + row->id.idiag_dport + row->id.idiag_src[0] + row->id.idiag_src[3] +
                 row->id.idiag_dst[0] + row->id.idiag_dst[3] + row->id.idiag_cookie[0] + row->id.idiag_cookie[1] + row->idiag_rqueue +
                 row->idiag_wqueue;
      rows++;
    }
  }
  close(fd);
  clock_gettime(CLOCK_MONOTONIC, &end);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpuEnd);
  long long ns = (end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
  long long cpuNs = (cpuEnd.tv_sec - cpuStart.tv_sec) * 1000000000LL + (cpuEnd.tv_nsec - cpuStart.tv_nsec);
  std::printf("%ld %lld %llu %lld\n", rows, ns, touched & 1, cpuNs);
  return 0;
}
