// examples/watch-states.js: every state change of a port's sockets, as it happens.
const net = require('node:net');
const { watchStates } = require('sockctl');

const server = net.createServer((socket) => socket.end()).listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  const changes = watchStates({ localPort: port }); // the kernel's tracepoint as root, else polls
  net.connect(port, '127.0.0.1').resume(); // the server closes first: its end goes to TIME_WAIT
  const firstCookie = new Map(); // cookie: the kernel's id of a socket, unlike a reusable 4-tuple
  for await (const { from, to, cookie, row } of changes) {
    if (!firstCookie.has(row.remotePort)) firstCookie.set(row.remotePort, cookie);
    if (to !== 'TIME_WAIT') continue;
    console.log('TIME_WAIT seen, same socket as before:', firstCookie.get(row.remotePort) === cookie); // true
    changes.close(); // or break: its tracefs instance and descriptors go with it
  }
  server.close();
});
