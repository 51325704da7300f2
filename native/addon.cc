// The binding's entry point: napi_module_register via NODE_API_MODULE.
#include <napi.h>

#include "environment.h"
#include "errors.h"
#include "init.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  sockctl::InitEnvironment(env);  // first: the others use it
  sockctl::InitErrors(env, exports);
  sockctl::InitConstants(env, exports);
  sockctl::InitConnect(env, exports);
  sockctl::InitDescriptors(env, exports);
  sockctl::InitDiag(env, exports);
  sockctl::InitEvents(env, exports);
  sockctl::InitListener(env, exports);
  sockctl::InitNotifyReceiver(env, exports);
  sockctl::InitOptions(env, exports);
  sockctl::InitProcess(env, exports);
  sockctl::InitReuseportCbpf(env, exports);
  sockctl::InitSend(env, exports);
  sockctl::InitShutdown(env, exports);
  sockctl::InitSocket(env, exports);
  sockctl::InitTcpInfo(env, exports);
  sockctl::InitNotify(env, exports);
  sockctl::InitScmRights(env, exports);
  sockctl::InitSocketInfo(env, exports);
  sockctl::InitWatcher(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(sockctl, Init)
