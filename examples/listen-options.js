// examples/listen-options.js: every option set on the listener before bind; see the order with
//   strace -f -e trace=socket,setsockopt,bind,listen node examples/listen-options.js
const net = require('node:net');
const { getOption, listen } = require('sockctl');

// Options as JSON on the command line, or these:
const options = JSON.parse(process.argv[2] ?? '{"host":"127.0.0.1","backlog":64,"sockopts":{"SO_RCVBUF":65536}}');
listen(net.createServer(), options).then((server) => {
  console.log('listening on', server.address().family); // IPv4
  console.log('SO_REUSEADDR', getOption(server, 'SO_REUSEADDR')); // true: the default, as libuv
  console.log('SO_RCVBUF', getOption(server, 'SO_RCVBUF')); // 131072: Linux doubles it
  server.close();
});
