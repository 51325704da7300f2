// TCP_INFO, tcp(7): Linux's struct tcp_info from <netinet/tcp.h>. Other platforms have
// other structs (macOS TCP_CONNECTION_INFO); there the call fails with ENOTSUP.
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>

#include "errors.h"
#include "init.h"

namespace sockctl {

namespace {

#ifdef __linux__
Napi::Value GetTcpInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  struct tcp_info ti = {};
  socklen_t length = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &length) != 0) throw ErrnoError(env, errno, "getsockopt");
  Napi::Object r = Napi::Object::New(env);
  auto set = [&](const char* key, double value) { r.Set(key, Napi::Number::New(env, value)); };
  set("state", ti.tcpi_state);
  set("caState", ti.tcpi_ca_state);
  set("retransmits", ti.tcpi_retransmits);
  set("probes", ti.tcpi_probes);
  set("backoff", ti.tcpi_backoff);
  set("options", ti.tcpi_options);
  set("sndWscale", ti.tcpi_snd_wscale);
  set("rcvWscale", ti.tcpi_rcv_wscale);
  set("rto", ti.tcpi_rto);
  set("ato", ti.tcpi_ato);
  set("sndMss", ti.tcpi_snd_mss);
  set("rcvMss", ti.tcpi_rcv_mss);
  set("unacked", ti.tcpi_unacked);
  set("sacked", ti.tcpi_sacked);
  set("lost", ti.tcpi_lost);
  set("retrans", ti.tcpi_retrans);
  set("lastDataSent", ti.tcpi_last_data_sent);
  set("lastAckSent", ti.tcpi_last_ack_sent);
  set("lastDataRecv", ti.tcpi_last_data_recv);
  set("lastAckRecv", ti.tcpi_last_ack_recv);
  set("pmtu", ti.tcpi_pmtu);
  set("rcvSsthresh", ti.tcpi_rcv_ssthresh);
  set("rtt", ti.tcpi_rtt);
  set("rttvar", ti.tcpi_rttvar);
  set("sndSsthresh", ti.tcpi_snd_ssthresh);
  set("sndCwnd", ti.tcpi_snd_cwnd);
  set("advmss", ti.tcpi_advmss);
  set("reordering", ti.tcpi_reordering);
  set("rcvRtt", ti.tcpi_rcv_rtt);
  set("rcvSpace", ti.tcpi_rcv_space);
  set("totalRetrans", ti.tcpi_total_retrans);
  return r;
}
#else
Napi::Value GetTcpInfo(const Napi::CallbackInfo& info) {
  FdArg(info, 0);
  throw ErrnoError(info.Env(), ENOTSUP, "getsockopt");
}
#endif

}  // namespace

void InitTcpInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("getTcpInfo", Napi::Function::New(env, GetTcpInfo, "getTcpInfo"));
}

}  // namespace sockctl
