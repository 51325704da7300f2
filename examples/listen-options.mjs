// Every option on the listener before bind: run it under strace to see the order.
//   node examples/listen-options.mjs '{"host":"::1","backlog":64,"reuseAddr":false}'
//   strace -f -e trace=socket,setsockopt,bind,listen node examples/listen-options.mjs
import net from 'node:net';
import { fdOf, getOption, listen } from 'sockctl';

const options = JSON.parse(process.argv[2] ?? '{"host":"127.0.0.1","backlog":64,"sockopts":{"SO_RCVBUF":65536}}');
const server = await listen(net.createServer(), options);
const { port } = server.address();
console.log(JSON.stringify({
  fd: fdOf(server),
  port,
  SO_REUSEADDR: getOption(server, 'SO_REUSEADDR'),
  SO_REUSEPORT: getOption(server, 'SO_REUSEPORT'),
}));
server.close();
