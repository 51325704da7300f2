// TCP_INFO, tcp(7): Linux's struct tcp_info from <netinet/tcp.h>, getsockopt(2). Other
// platforms have other structs (macOS TCP_CONNECTION_INFO); there the call fails with
// ENOTSUP. The kernel (or an emulator: qemu-user fills 4 bytes) may return a shorter
// struct than these headers know: a field beyond the returned length is left out, never
// shown as 0.
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

#ifdef __linux__
// The fields `length` bytes of `ti` cover, by the names lib/core/binding.ts types.
Napi::Object Decode(Napi::Env env, const struct tcp_info& ti, size_t length) {
  Napi::Object r = Napi::Object::New(env);
  auto put = [&](const char* key, size_t end, double value) {
    if (end <= length) r.Set(key, Napi::Number::New(env, value));
  };
#define SOCKCTL_FIELD(key, member) put(key, offsetof(struct tcp_info, member) + sizeof ti.member, ti.member)
  SOCKCTL_FIELD("state", tcpi_state);
  SOCKCTL_FIELD("caState", tcpi_ca_state);
  SOCKCTL_FIELD("retransmits", tcpi_retransmits);
  SOCKCTL_FIELD("probes", tcpi_probes);
  SOCKCTL_FIELD("backoff", tcpi_backoff);
  SOCKCTL_FIELD("options", tcpi_options);
  // The two 4-bit window scales share the byte after tcpi_options (bit-fields: no offsetof).
  size_t wscaleEnd = offsetof(struct tcp_info, tcpi_options) + sizeof ti.tcpi_options + 1;
  put("sndWscale", wscaleEnd, ti.tcpi_snd_wscale);
  put("rcvWscale", wscaleEnd, ti.tcpi_rcv_wscale);
  SOCKCTL_FIELD("rto", tcpi_rto);
  SOCKCTL_FIELD("ato", tcpi_ato);
  SOCKCTL_FIELD("sndMss", tcpi_snd_mss);
  SOCKCTL_FIELD("rcvMss", tcpi_rcv_mss);
  SOCKCTL_FIELD("unacked", tcpi_unacked);
  SOCKCTL_FIELD("sacked", tcpi_sacked);
  SOCKCTL_FIELD("lost", tcpi_lost);
  SOCKCTL_FIELD("retrans", tcpi_retrans);
  SOCKCTL_FIELD("lastDataSent", tcpi_last_data_sent);
  SOCKCTL_FIELD("lastAckSent", tcpi_last_ack_sent);
  SOCKCTL_FIELD("lastDataRecv", tcpi_last_data_recv);
  SOCKCTL_FIELD("lastAckRecv", tcpi_last_ack_recv);
  SOCKCTL_FIELD("pmtu", tcpi_pmtu);
  SOCKCTL_FIELD("rcvSsthresh", tcpi_rcv_ssthresh);
  SOCKCTL_FIELD("rtt", tcpi_rtt);
  SOCKCTL_FIELD("rttvar", tcpi_rttvar);
  SOCKCTL_FIELD("sndSsthresh", tcpi_snd_ssthresh);
  SOCKCTL_FIELD("sndCwnd", tcpi_snd_cwnd);
  SOCKCTL_FIELD("advmss", tcpi_advmss);
  SOCKCTL_FIELD("reordering", tcpi_reordering);
  SOCKCTL_FIELD("rcvRtt", tcpi_rcv_rtt);
  SOCKCTL_FIELD("rcvSpace", tcpi_rcv_space);
  SOCKCTL_FIELD("totalRetrans", tcpi_total_retrans);
#undef SOCKCTL_FIELD
  return r;
}

Napi::Value GetTcpInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  struct tcp_info ti = {};
  socklen_t length = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &length) != 0) throw ErrnoError(env, errno, "getsockopt");
  return Decode(env, ti, length);
}

// The decoder alone, on bytes as getsockopt would return them (the length is theirs):
// how a test shows what a short struct gives without a kernel that returns one.
Napi::Value DecodeTcpInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw ArgTypeError(env, "bytes", "an instance of Buffer or TypedArray");
  Napi::TypedArray bytes = info[0].As<Napi::TypedArray>();
  struct tcp_info ti = {};
  size_t length = bytes.ByteLength() < sizeof ti ? bytes.ByteLength() : sizeof ti;
  const auto* data = static_cast<const char*>(bytes.ArrayBuffer().Data());
  if (data == nullptr) length = 0;
  if (length != 0) std::memcpy(&ti, data + bytes.ByteOffset(), length);
  return Decode(env, ti, length);
}
#else
Napi::Value GetTcpInfo(const Napi::CallbackInfo& info) {
  FdArg(info, 0);
  throw ErrnoError(info.Env(), ENOTSUP, "getsockopt");
}

Napi::Value DecodeTcpInfo(const Napi::CallbackInfo& info) {
  throw ErrnoError(info.Env(), ENOTSUP, "getsockopt");
}
#endif

}  // namespace

void InitTcpInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("getTcpInfo", Napi::Function::New(env, GetTcpInfo, "getTcpInfo"));
  exports.Set("decodeTcpInfo", Napi::Function::New(env, DecodeTcpInfo, "decodeTcpInfo"));
}

}  // namespace sockctl
