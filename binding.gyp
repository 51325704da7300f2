{
  # Keep NAPI_VERSION and the exception mode the same in CMakeLists.txt and in
  # package.json "binary.napi_versions". C++ exceptions are ON (NAPI_CPP_EXCEPTIONS):
  # a failed system call throws the Node-style error from native/errors.cc.
  # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: in a worker being terminated, an error that
  # can no longer be thrown into JavaScript is dropped instead of aborting the process
  # (native/environment.h has the rest of the rules).
  "targets": [
    {
      "target_name": "sockctl",
      "sources": [
        "native/addon.cc",
        "native/address.cc",
        "native/connect.cc",
        "native/constants.cc",
        "native/descriptors.cc",
        "native/diag.cc",
        "native/environment.cc",
        "native/errors.cc",
        "native/events.cc",
        "native/listener.cc",
        "native/notify.cc",
        "native/process.cc",
        "native/notify_receiver.cc",
        "native/options.cc",
        "native/reuseport_cbpf.cc",
        "native/scm_rights.cc",
        "native/send.cc",
        "native/shutdown.cc",
        "native/socket.cc",
        "native/socket_info.cc",
        "native/tcp_info.cc",
        "native/watcher.cc"
      ],
      # The platform's side of native/sys/sys.h: Linux, or macOS (compiled in CI by
      # test/package/macos.sh). No other system is claimed (package.json "os").
      "conditions": [
        ["OS=='linux'", {"sources": ["native/sys/linux.cc", "native/sys/linux_diag.cc"]}],
        ["OS=='mac'", {"sources": ["native/sys/darwin.cc"]}]
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      }
    }
  ]
}
