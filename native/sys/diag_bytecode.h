// The port filter of an inet_diag dump, as INET_DIAG_REQ_BYTECODE: sock_diag(7),
// linux/inet_diag.h, and iproute2's ss (misc/ss.c, ssfilter_bytecompile), which compiles
// `( sport = :P or dport = :P )` the same way.
//
// The kernel (inet_diag_bc_run) walks the ops: a test that holds moves `yes` bytes on,
// one that fails moves `no` bytes on; the socket is dumped when the walk ends exactly at
// the end of the program. Every piece here keeps ss's convention: success runs off its own
// end, failure jumps 4 bytes past it, so pieces can be joined with And and Or.
#pragma once

#ifdef __linux__

#include <linux/inet_diag.h>

#include <cstdint>
#include <vector>

namespace sockctl::diag {

using Bytecode = std::vector<inet_diag_bc_op>;

constexpr int kOpBytes = sizeof(inet_diag_bc_op);

inline int Bytes(const Bytecode& code) {
  return static_cast<int>(code.size()) * kOpBytes;
}

// One comparison (S_GE, S_LE, D_GE, D_LE): the op, then the port in the next op's `no`.
inline Bytecode Compare(uint8_t code, uint16_t port) {
  return {{code, 2 * kOpBytes, 3 * kOpBytes}, {0, 0, port}};
}

// a and b: a's failure exits are moved past b (ss's ssfilter_patch).
inline Bytecode And(Bytecode a, const Bytecode& b) {
  int left = Bytes(a);
  for (size_t i = 0; left > 0 && i < a.size(); i += a[i].yes / kOpBytes) {
    if (a[i].no == left + kOpBytes) a[i].no = static_cast<uint16_t>(a[i].no + Bytes(b));
    left -= a[i].yes;
  }
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// a or b: a's success reaches a JMP over b; a's failure exits land on b.
inline Bytecode Or(Bytecode a, const Bytecode& b) {
  a.push_back({INET_DIAG_BC_JMP, kOpBytes, static_cast<uint16_t>(Bytes(b) + kOpBytes)});
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline Bytecode LocalPortIs(uint16_t port) {
  return And(Compare(INET_DIAG_BC_S_GE, port), Compare(INET_DIAG_BC_S_LE, port));
}

inline Bytecode RemotePortIs(uint16_t port) {
  return And(Compare(INET_DIAG_BC_D_GE, port), Compare(INET_DIAG_BC_D_LE, port));
}

// The program for the filter's ports (0: no condition); empty when there is none.
inline Bytecode PortFilter(uint16_t localPort, uint16_t remotePort, uint16_t anyPort) {
  Bytecode code;
  auto add = [&code](const Bytecode& piece) { code = code.empty() ? piece : And(code, piece); };
  if (anyPort != 0) add(Or(LocalPortIs(anyPort), RemotePortIs(anyPort)));
  if (localPort != 0) add(LocalPortIs(localPort));
  if (remotePort != 0) add(RemotePortIs(remotePort));
  return code;
}

}  // namespace sockctl::diag

#endif  // __linux__
