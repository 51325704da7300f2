// The floor for bench/options.mjs: one plain Node-API call that does the same
// setsockopt(fd, level, name, value) with no validation, no wrapper and no options table.
#include <node_api.h>
#include <sys/socket.h>

static napi_value SetInt(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int v[4] = {0};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (int i = 0; i < 4; i++) napi_get_value_int32(env, argv[i], &v[i]);
  setsockopt(v[0], v[1], v[2], &v[3], sizeof v[3]);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "setInt", NAPI_AUTO_LENGTH, SetInt, NULL, &fn);
  napi_set_named_property(env, exports, "setInt", fn);
  return exports;
}
