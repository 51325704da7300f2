// Each native file adds its functions to the binding's exports through one of these.
#pragma once

#include <napi.h>

namespace sockctl {

void InitConstants(Napi::Env env, Napi::Object exports);
void InitConnect(Napi::Env env, Napi::Object exports);
void InitDescriptors(Napi::Env env, Napi::Object exports);
void InitDiag(Napi::Env env, Napi::Object exports);
void InitEvents(Napi::Env env, Napi::Object exports);
void InitListener(Napi::Env env, Napi::Object exports);
void InitNotifyReceiver(Napi::Env env, Napi::Object exports);
void InitOptions(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
void InitReuseportCbpf(Napi::Env env, Napi::Object exports);
void InitSocket(Napi::Env env, Napi::Object exports);
void InitSend(Napi::Env env, Napi::Object exports);
void InitShutdown(Napi::Env env, Napi::Object exports);
void InitTcpInfo(Napi::Env env, Napi::Object exports);
void InitNotify(Napi::Env env, Napi::Object exports);
void InitScmRights(Napi::Env env, Napi::Object exports);
void InitSocketInfo(Napi::Env env, Napi::Object exports);
void InitWatcher(Napi::Env env, Napi::Object exports);

}  // namespace sockctl
