// examples/connect.js: a client socket with its options set before the SYN.
const net = require('node:net');
const { connect, getOption } = require('sockctl');

const server = net.createServer((s) => s.end('hello')).listen(0, '127.0.0.1', async () => {
  const client = await connect({
    host: '127.0.0.1',
    port: server.address().port,
    localAddress: '127.0.0.2', // bound before connect, SO_REUSEADDR left off
    sockopts: { SO_RCVBUF: 4096, TCP_NODELAY: true }, // before the SYN: the window scale follows
    timeoutMs: 2000,
  });
  console.log('from', client.localAddress); // 127.0.0.2
  console.log('window scale', getOption(client, 'TCP_INFO').rcvWscale); // 0
  for await (const chunk of client) console.log('got', String(chunk)); // got hello
  server.close();
});
