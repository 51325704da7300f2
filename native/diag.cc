// The TCP sockets of this host as the kernel lists them (sock_diag(7), the way ss(8)
// asks): the arguments read here, the requests sent by the platform (sys/linux_diag.cc;
// elsewhere ENOTSUP, sys/other.cc).
//
// Rows go back to JavaScript as one ArrayBuffer of fixed records (diag_row.h; lib/states/
// netlink.ts decodes them with the offsets exported here): the rows' own memory, no copy,
// no per-field Napi calls. tcpDiagLookupSync names one connection's 4-tuple (the kernel looks it up instead
// of walking its tables), on the environment's kept socket (environment.h, rule 3). tcpDiagDump does the work on libuv's thread pool (PromiseWorker)
// and resolves a promise; tcpDiagDumpSync blocks. Both take an optional scratch ArrayBuffer
// to copy the rows into (then they return the row count), and write into row vectors kept
// warm between dumps.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include <sys/socket.h>

#include "address.h"
#include "diag_row.h"
#include "environment.h"
#include "errors.h"
#include "init.h"
#include "promise_worker.h"
#include "sys/sys.h"


namespace sockctl {

namespace {

using diag::DiagRow;
using sys::DumpRequest;
using sys::LookupRequest;
using DumpFailure = sys::Failure;

constexpr int kIpv4 = diag::kRequestIpv4;
constexpr int kIpv6 = diag::kRequestIpv6;


// A dump's rows handed over without a copy: the ArrayBuffer owns the vector's memory (an
// external ArrayBuffer, napi_create_external_arraybuffer) and frees it once collected; the
// engine is told of the memory so that it collects in time. Where a runtime refuses external
// buffers, a copy. Copying 20,000 rows into a fresh, zeroed buffer cost a tenth of a dump.
void FreeRows(napi_env env, void*, void* hint) noexcept {
  auto* rows = static_cast<std::vector<DiagRow>*>(hint);
  napi_adjust_external_memory(env, -static_cast<int64_t>(rows->size() * sizeof(DiagRow)), nullptr);
  delete rows;
}

Napi::ArrayBuffer ToArrayBuffer(Napi::Env env, std::vector<DiagRow>&& rows) {
  size_t bytes = rows.size() * sizeof(DiagRow);
  if (bytes == 0) return Napi::ArrayBuffer::New(env, 0);
  auto* owned = new std::vector<DiagRow>(std::move(rows));
  napi_value value;
  if (napi_create_external_arraybuffer(env, owned->data(), bytes, FreeRows, owned, &value) == napi_ok) {
    napi_adjust_external_memory(env, static_cast<int64_t>(bytes), nullptr);
    return Napi::ArrayBuffer(env, value);
  }
  std::unique_ptr<std::vector<DiagRow>> copied(owned);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  std::memcpy(buffer.Data(), copied->data(), bytes);
  return buffer;
}

// Row vectors kept between dumps (any thread's: a mutex), so that a dump writes into memory
// already touched: here each page of a fresh 1.4 MB buffer cost ~12 µs to fault in, a third
// of a 20,000-row dump. A few vectors, none beyond kPooledRowsMax rows.
constexpr size_t kPooledVectors = 4;
constexpr size_t kPooledRowsMax = (16u << 20) / sizeof(DiagRow);
std::mutex poolMutex;
std::vector<std::vector<DiagRow>> pool;  // only under poolMutex

std::vector<DiagRow> TakeRows() {
  std::lock_guard<std::mutex> lock(poolMutex);
  if (pool.empty()) return {};
  std::vector<DiagRow> rows = std::move(pool.back());
  pool.pop_back();
  return rows;
}

void GiveRows(std::vector<DiagRow>&& rows) noexcept {
  rows.clear();
  if (rows.capacity() == 0 || rows.capacity() > kPooledRowsMax) return;
  NoThrow([&] {
    std::lock_guard<std::mutex> lock(poolMutex);
    if (pool.size() < kPooledVectors) pool.push_back(std::move(rows));
  });
}

// The optional last argument: an ArrayBuffer of JavaScript's (lib/states/netlink.ts keeps a
// few, so that their memory stays warm too) that the rows are copied into when they fit;
// then the result is the row count and the vector goes back to the pool. Otherwise, or with
// no scratch buffer, the rows' own ArrayBuffer.
Napi::Value ScratchArg(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined()) return info.Env().Undefined();
  if (!info[index].IsArrayBuffer()) throw ArgTypeError(info.Env(), "scratch", "an ArrayBuffer");
  return info[index];
}

Napi::Value Deliver(Napi::Env env, std::vector<DiagRow>&& rows, Napi::Value scratch) {
  size_t bytes = rows.size() * sizeof(DiagRow);
  if (scratch.IsArrayBuffer()) {
    Napi::ArrayBuffer buffer = scratch.As<Napi::ArrayBuffer>();
    if (buffer.ByteLength() >= bytes) {
      if (bytes != 0) std::memcpy(buffer.Data(), rows.data(), bytes);
      size_t count = rows.size();
      GiveRows(std::move(rows));
      return Napi::Number::New(env, static_cast<double>(count));
    }
  }
  return ToArrayBuffer(env, std::move(rows));
}

// (families, states, localPort, remotePort, anyPort, scratch?, extensions?, udp?): checked
// in lib/states/ first. `extensions` (diag::kExtension*, 0 by default) asks for TCP_INFO, the
// congestion control and the socket's memory of each row; `udp` (1) for UDP sockets.
DumpRequest RequestArgs(const Napi::CallbackInfo& info) {
  DumpRequest request;
  request.families = IntArg(info, 0, "families") & (kIpv4 | kIpv6);
  request.states = static_cast<uint32_t>(IntArg(info, 1, "states"));
  request.localPort = PortArg(info, 2, "localPort");
  request.remotePort = PortArg(info, 3, "remotePort");
  request.anyPort = PortArg(info, 4, "anyPort");
  if (info.Length() > 6 && !info[6].IsUndefined()) {
    request.extensions = static_cast<uint8_t>(IntArg(info, 6, "extensions") &
                                              (diag::kExtensionInfo | diag::kExtensionCongestion | diag::kExtensionMemory));
  }
  if (info.Length() > 7 && !info[7].IsUndefined()) request.udp = IntArg(info, 7, "udp") != 0;
  return request;
}

// An extended dump's result: [rows, extras], two ArrayBuffers of as many records each.
Napi::Value DeliverExtended(Napi::Env env, std::vector<DiagRow>&& rows, std::vector<diag::DiagExtra>&& extras) {
  Napi::Array both = Napi::Array::New(env, 2);
  both.Set(0u, ToArrayBuffer(env, std::move(rows)));
  size_t bytes = extras.size() * sizeof(diag::DiagExtra);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes != 0) std::memcpy(buffer.Data(), extras.data(), bytes);
  both.Set(1u, buffer);
  return both;
}

class DumpWorker : public PromiseWorker {
 public:
  DumpWorker(Napi::Env env, const DumpRequest& request, Napi::Value scratch)
      : PromiseWorker(env, "sockctl:tcpDiagDump", "sock_diag"), request_(request) {
    if (scratch.IsArrayBuffer()) scratch_ = Napi::Persistent(scratch.As<Napi::ArrayBuffer>());
  }

 private:
  void Run() override {
    rows_ = TakeRows();
    failure_ = sys::DiagDump(request_, &rows_, &extras_);
  }

  Napi::Value Result(Napi::Env env) override {
    if (failure_.error != 0) {
      GiveRows(std::move(rows_));
      throw ErrnoError(env, failure_.error, failure_.syscall);
    }
    if (request_.extensions != 0) return DeliverExtended(env, std::move(rows_), std::move(extras_));
    return Deliver(env, std::move(rows_), scratch_.IsEmpty() ? env.Undefined() : scratch_.Value());
  }

  DumpRequest request_;
  DumpFailure failure_;
  std::vector<DiagRow> rows_;
  std::vector<diag::DiagExtra> extras_;
  Napi::Reference<Napi::ArrayBuffer> scratch_;  // held until the result is delivered
};

Napi::Value TcpDiagDump(const Napi::CallbackInfo& info) {
  DumpRequest request = RequestArgs(info);
  return PromiseWorker::Start<DumpWorker>(info.Env(), request, ScratchArg(info, 5));
}

Napi::Value TcpDiagDumpSync(const Napi::CallbackInfo& info) {
  DumpRequest request = RequestArgs(info);
  Napi::Value scratch = ScratchArg(info, 5);
  std::vector<DiagRow> rows = TakeRows();
  std::vector<diag::DiagExtra> extras;
  DumpFailure failure;
  // node-addon-api passes on only Napi::Error: a std::bad_alloc from the row vector would
  // reach std::terminate. Out of memory is ENOMEM, as a failed syscall would say it.
  try {
    failure = sys::DiagDump(request, &rows, &extras);
  } catch (const std::bad_alloc&) {
    failure = {ENOMEM, "sock_diag"};
  }
  if (failure.error != 0) {
    GiveRows(std::move(rows));
    throw ErrnoError(info.Env(), failure.error, failure.syscall);
  }
  if (request.extensions != 0) return DeliverExtended(info.Env(), std::move(rows), std::move(extras));
  return Deliver(info.Env(), std::move(rows), scratch);
}

// (ipv6, localAddress, localPort, remoteAddress, remotePort, cookie): cookie is 16 hex
// digits (high word first, as ss prints sk:) or '' for none. Checked in lib/states/ first.
LookupRequest LookupArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LookupRequest request = {};
  request.ipv6 = IntArg(info, 0, "ipv6") != 0;
  for (size_t index : {1, 3}) {
    bool local = index == 1;
    InetAddress address = InetAddressArg(info, index, local ? "localAddress" : "remoteAddress", index + 1,
                                         local ? "localPort" : "remotePort", "sock_diag");
    if (address.family != (request.ipv6 ? AF_INET6 : AF_INET)) throw ErrnoError(env, EINVAL, "sock_diag");
    std::memcpy(local ? request.local : request.remote, address.bytes(), request.ipv6 ? 16 : 4);
    (local ? request.localPort : request.remotePort) = PortArg(info, index + 1, local ? "localPort" : "remotePort");
  }
  if (info.Length() <= 5 || !info[5].IsString()) throw ArgTypeError(env, "cookie", "of type string");
  std::string cookie = info[5].As<Napi::String>().Utf8Value();
  if (cookie.empty()) {
    request.cookie[0] = request.cookie[1] = sys::kNoCookie;
  } else {
    if (cookie.size() > 16 || cookie.find_first_not_of("0123456789abcdef") != std::string::npos) {
      throw ErrnoError(env, EINVAL, "sock_diag");
    }
    unsigned long long value = std::stoull(cookie, nullptr, 16);
    request.cookie[0] = static_cast<uint32_t>(value);
    request.cookie[1] = static_cast<uint32_t>(value >> 32);
  }
  return request;
}

Napi::Value TcpDiagLookupSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LookupRequest request = LookupArgs(info);
  const char* syscall = "";
  int fd = LookupSocket(env, &syscall);
  if (fd < 0) throw ErrnoError(env, -fd, syscall);
  std::vector<DiagRow> rows;
  DumpFailure failure;
  try {
    failure = sys::DiagLookup(fd, request, &rows);
  } catch (const std::bad_alloc&) {  // as the sync dump: ENOMEM, never std::terminate
    failure = {ENOMEM, "sock_diag"};
  }
  if (failure.error != 0) {
    // The socket itself failed (not the kernel's answer): the next lookup opens a new one.
    if (std::strcmp(failure.syscall, "sock_diag") != 0) DropLookupSocket(env);
    throw ErrnoError(env, failure.error, failure.syscall);
  }
  return ToArrayBuffer(env, std::move(rows));
}

// The same arguments: SOCK_DESTROY of that socket (destroySocket, lib/states/destroy.ts).
Napi::Value TcpDiagDestroySync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LookupRequest request = LookupArgs(info);
  const char* syscall = "";
  int fd = LookupSocket(env, &syscall);
  if (fd < 0) throw ErrnoError(env, -fd, syscall);
  DumpFailure failure = sys::DiagDestroy(fd, request);
  if (failure.error != 0) {
    if (std::strcmp(failure.syscall, "sendto") == 0 || std::strcmp(failure.syscall, "recvfrom") == 0) DropLookupSocket(env);
    throw ErrnoError(env, failure.error, failure.syscall);
  }
  return env.Undefined();
}

// The records of a UNIX dump (diag_row.h UnixRow) as one ArrayBuffer.
Napi::Value UnixRowsBuffer(Napi::Env env, const std::vector<diag::UnixRow>& rows) {
  size_t bytes = rows.size() * sizeof(diag::UnixRow);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes != 0) std::memcpy(buffer.Data(), rows.data(), bytes);
  return buffer;
}

// Every UNIX socket of the namespace (ss -x), blocking.
Napi::Value UnixDiagDumpSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<diag::UnixRow> rows;
  DumpFailure failure;
  try {
    failure = sys::UnixDump(&rows);
  } catch (const std::bad_alloc&) {
    failure = {ENOMEM, "sock_diag"};
  }
  if (failure.error != 0) throw ErrnoError(env, failure.error, failure.syscall);
  return UnixRowsBuffer(env, rows);
}

// The same dump on libuv's thread pool: a host with many UNIX sockets does not block the loop.
class UnixDumpWorker : public PromiseWorker {
 public:
  explicit UnixDumpWorker(Napi::Env env) : PromiseWorker(env, "sockctl:unixDiagDump", "sock_diag") {}

 private:
  void Run() override { failure_ = sys::UnixDump(&rows_); }

  Napi::Value Result(Napi::Env env) override {
    if (failure_.error != 0) throw ErrnoError(env, failure_.error, failure_.syscall);
    return UnixRowsBuffer(env, rows_);
  }

  DumpFailure failure_;
  std::vector<diag::UnixRow> rows_;
};

Napi::Value UnixDiagDump(const Napi::CallbackInfo& info) {
  return PromiseWorker::Start<UnixDumpWorker>(info.Env());
}

// The rows of recorded sock_diag replies (netlink messages as the kernel sent them): what
// a dump does to each message, without a kernel, for the decoders' fixture tests.
Napi::Value DiagRowsFromMessages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<char> input = BufferArg(info, 0, "messages");
  std::vector<DiagRow> rows;
  DumpFailure failure = sys::DiagRowsOf(input.Data(), input.Length(), &rows);
  if (failure.error != 0) throw ErrnoError(env, failure.error, failure.syscall);
  return ToArrayBuffer(env, std::move(rows));
}

// Where each field of a row is, so that JavaScript never keeps its own copy of the layout.
Napi::Object Layout(Napi::Env env) {
  Napi::Object layout = Napi::Object::New(env);
  Napi::Object offsets = Napi::Object::New(env);
#define SOCKCTL_OFFSET(field) offsets.Set(#field, Napi::Number::New(env, offsetof(DiagRow, field)))
  SOCKCTL_OFFSET(family);
  SOCKCTL_OFFSET(state);
  SOCKCTL_OFFSET(timer);
  SOCKCTL_OFFSET(retransmits);
  SOCKCTL_OFFSET(expiresMs);
  SOCKCTL_OFFSET(recvQ);
  SOCKCTL_OFFSET(sendQ);
  SOCKCTL_OFFSET(uid);
  SOCKCTL_OFFSET(inode);
  SOCKCTL_OFFSET(localPort);
  SOCKCTL_OFFSET(remotePort);
  SOCKCTL_OFFSET(local);
  SOCKCTL_OFFSET(remote);
  SOCKCTL_OFFSET(cookieLow);
  SOCKCTL_OFFSET(cookieHigh);
  SOCKCTL_OFFSET(v6only);
#undef SOCKCTL_OFFSET
  layout.Set("rowBytes", Napi::Number::New(env, sizeof(DiagRow)));
  layout.Set("offsets", offsets);
  Napi::Object rowFamilies = Napi::Object::New(env);
  rowFamilies.Set("ipv4", Napi::Number::New(env, diag::kRowIpv4));
  rowFamilies.Set("ipv6", Napi::Number::New(env, diag::kRowIpv6));
  layout.Set("rowFamilies", rowFamilies);
  Napi::Object requestFamilies = Napi::Object::New(env);
  requestFamilies.Set("ipv4", Napi::Number::New(env, diag::kRequestIpv4));
  requestFamilies.Set("ipv6", Napi::Number::New(env, diag::kRequestIpv6));
  layout.Set("requestFamilies", requestFamilies);
  Napi::Object timers = Napi::Object::New(env);
  timers.Set("none", Napi::Number::New(env, diag::kTimerNone));
  timers.Set("retransmit", Napi::Number::New(env, diag::kTimerRetransmit));
  timers.Set("keepalive", Napi::Number::New(env, diag::kTimerKeepalive));
  timers.Set("timewait", Napi::Number::New(env, diag::kTimerTimeWait));
  timers.Set("persist", Napi::Number::New(env, diag::kTimerPersist));
  layout.Set("timers", timers);
  Napi::Object extra = Napi::Object::New(env);
  extra.Set("bytes", Napi::Number::New(env, sizeof(diag::DiagExtra)));
  extra.Set("infoBytes", Napi::Number::New(env, offsetof(diag::DiagExtra, infoBytes)));
  extra.Set("memoryWords", Napi::Number::New(env, offsetof(diag::DiagExtra, memoryWords)));
  extra.Set("congestion", Napi::Number::New(env, offsetof(diag::DiagExtra, congestion)));
  extra.Set("congestionBytes", Napi::Number::New(env, diag::kCongestionBytes));
  extra.Set("memory", Napi::Number::New(env, offsetof(diag::DiagExtra, memory)));
  extra.Set("info", Napi::Number::New(env, offsetof(diag::DiagExtra, info)));
  Napi::Object extensions = Napi::Object::New(env);
  extensions.Set("info", Napi::Number::New(env, diag::kExtensionInfo));
  extensions.Set("congestion", Napi::Number::New(env, diag::kExtensionCongestion));
  extensions.Set("memory", Napi::Number::New(env, diag::kExtensionMemory));
  extra.Set("extensions", extensions);
  layout.Set("extra", extra);
  Napi::Object unixRow = Napi::Object::New(env);
  unixRow.Set("bytes", Napi::Number::New(env, sizeof(diag::UnixRow)));
#define SOCKCTL_UNIX(field) unixRow.Set(#field, Napi::Number::New(env, offsetof(diag::UnixRow, field)))
  SOCKCTL_UNIX(type);
  SOCKCTL_UNIX(state);
  SOCKCTL_UNIX(pathBytes);
  SOCKCTL_UNIX(inode);
  SOCKCTL_UNIX(peerInode);
  SOCKCTL_UNIX(recvQ);
  SOCKCTL_UNIX(sendQ);
  SOCKCTL_UNIX(path);
#undef SOCKCTL_UNIX
  layout.Set("unix", unixRow);
  return layout;
}

}  // namespace

void InitDiag(Napi::Env env, Napi::Object exports) {
  exports.Set("tcpDiagDump", Napi::Function::New(env, TcpDiagDump, "tcpDiagDump"));
  exports.Set("tcpDiagDumpSync", Napi::Function::New(env, TcpDiagDumpSync, "tcpDiagDumpSync"));
  exports.Set("tcpDiagLookupSync", Napi::Function::New(env, TcpDiagLookupSync, "tcpDiagLookupSync"));
  exports.Set("unixDiagDumpSync", Napi::Function::New(env, UnixDiagDumpSync, "unixDiagDumpSync"));
  exports.Set("unixDiagDump", Napi::Function::New(env, UnixDiagDump, "unixDiagDump"));
  exports.Set("tcpDiagDestroySync", Napi::Function::New(env, TcpDiagDestroySync, "tcpDiagDestroySync"));
  exports.Set("diagRowBytes", Napi::Number::New(env, sizeof(DiagRow)));
  exports.Set("diagLayout", Layout(env));
  exports.Set("diagRowsFromMessages", Napi::Function::New(env, DiagRowsFromMessages, "diagRowsFromMessages"));
}

}  // namespace sockctl
